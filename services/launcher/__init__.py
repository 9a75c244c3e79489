"""The `make run` launcher: a process supervisor, the datastores it finds or starts, the start plan,
the embedded Triton server, and the command line."""
