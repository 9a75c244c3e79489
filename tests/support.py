"""Helpers the tests share (fixtures live in conftest.py)."""

import shutil
import socket
import subprocess
from pathlib import Path

from services.common.inference.embedded import EmbeddedTriton


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_triton(repository: Path, log_dir: Path, grpc_port: int | None = None) -> EmbeddedTriton:
    """The real tritonserver serving ``repository`` on 127.0.0.1 (a free port unless given)."""
    server = EmbeddedTriton(
        repository,
        grpc_port=grpc_port or free_port(),
        metrics_port=free_port(),
        log_file=log_dir / "tritonserver.log",
    )
    server.start()
    return server


class LoneRedis:
    """A Redis of the test's own on a free port (the real redis-server), started when the test says."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
