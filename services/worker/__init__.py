"""The worker service: stream -> batched inference -> PostgreSQL -> events (``python -m services.worker``)."""
