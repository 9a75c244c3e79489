"""The ingester service: synthetic posts and file replay onto the stream (``python -m services.ingester``)."""
