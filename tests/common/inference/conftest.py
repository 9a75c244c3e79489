"""The real tritonserver serving the repository that the real export built (tests/conftest.py)."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.inference.embedded import EmbeddedTriton


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_triton(repository: Path, log_dir: Path) -> EmbeddedTriton:
    server = EmbeddedTriton(
        repository, grpc_port=free_port(), metrics_port=free_port(), log_file=log_dir / "tritonserver.log"
    )
    server.start()
    return server


@pytest.fixture(scope="session")
def triton(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    server = start_triton(repository, tmp_path_factory.mktemp("triton"))
    yield server
    server.stop()
