"""The embedded Triton launcher: a profile config that is missing is an error, never Triton's silent fallback."""

import shutil
from pathlib import Path

import pytest

from services.common.inference.spec import MODEL
from services.launcher.tritonserver import EmbeddedTriton, TritonStartError
from tests.support import free_port


def test_a_missing_profile_config_is_an_error_not_a_fallback(repository: Path, tmp_path: Path) -> None:
    local = tmp_path / "repo"
    shutil.copytree(repository, local)
    (local / MODEL / "configs" / "embedded.pbtxt").unlink()
    with pytest.raises(TritonStartError, match="no embedded profile config"):
        EmbeddedTriton(local, grpc_port=free_port()).start()
