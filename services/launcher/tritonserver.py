"""Start, watch and stop the embedded Triton server: the ``tritonserver`` binary of the nvidia-pytriton wheel.

    python -m services.launcher.tritonserver --repository model_repository   # until Ctrl-C

That binary has only the Python backend, so it serves each model with its ``embedded`` config (the Python
backend running the model's ONNX graph). It listens on 127.0.0.1 only: gRPC for inference, and metrics.
"""

import argparse
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType

import tritonclient.grpc as grpcclient

from services.common.cli import configure_logging
from services.common.processes import session_nice

log = logging.getLogger("triton")
PROFILE = "embedded"


class TritonStartError(RuntimeError):
    """The server could not be started, or did not get its models ready."""


def _wheel_root() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonStartError("nvidia-pytriton is not installed (pip install 'nvidia-pytriton==0.7.0')")
    return Path(spec.submodule_search_locations[0])


def check_profile(repository: Path, profile: str) -> list[str]:
    """The models in ``repository``; each must have ``configs/<profile>.pbtxt`` (Triton would silently fall
    back to ``config.pbtxt`` otherwise)."""
    if not repository.is_dir():
        raise TritonStartError(f"no model repository at {repository} (run `python -m export build`)")
    models = sorted(p.name for p in repository.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not models:
        raise TritonStartError(f"{repository} holds no model (run `python -m export build`)")
    missing = [m for m in models if not (repository / m / "configs" / f"{profile}.pbtxt").is_file()]
    if missing:
        raise TritonStartError(
            f"no {profile} profile config (configs/{profile}.pbtxt) for: {', '.join(missing)}"
        )
    return models


class EmbeddedTriton:
    """One tritonserver process on 127.0.0.1. Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        repository: Path,
        *,
        grpc_port: int = 8001,
        metrics_port: int = 8002,
        log_file: Path | None = None,
    ) -> None:
        self.repository = repository.resolve()
        self.grpc_port = grpc_port
        self.metrics_port = metrics_port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._backends: Path | None = None
        self._log_handle: int | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def _backend_directory(self) -> Path:
        """Triton wants the Python backend, its utils and the stub for our Python together in one folder."""
        root = _wheel_root() / "tritonserver"
        folder = Path(tempfile.mkdtemp(prefix="tritonserver-backends-"))
        python = folder / "python"
        python.mkdir()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        for source in (
            root / "backends" / "python" / "libtriton_python.so",
            root / "backends" / "python" / "triton_python_backend_utils.py",
            root / "python_backend_stubs" / version / "triton_python_backend_stub",
        ):
            if not source.exists():
                raise TritonStartError(f"the nvidia-pytriton wheel lacks {source}")
            (python / source.name).symlink_to(source)
        return folder

    def start(self, timeout_s: float = 120.0) -> None:
        models = check_profile(self.repository, PROFILE)
        root = _wheel_root()
        self._backends = self._backend_directory()
        env = dict(os.environ)
        libs = str(root.parent / "nvidia_pytriton.libs")
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libs, env.get("LD_LIBRARY_PATH")]))
        env["SENTIMENT_SITE_PACKAGES"] = sysconfig.get_paths()["purelib"]
        command = [
            str(root / "tritonserver" / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--model-config-name={PROFILE}",
            f"--backend-directory={self._backends}",
            "--allow-http=false",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.grpc_port}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self.metrics_port}",
            "--exit-on-error=true",
            "--strict-readiness=true",
        ]
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        log.info("starting tritonserver on %s with %s", self.url, ", ".join(models))
        self.process = subprocess.Popen(  # noqa: S603 - our own binary, arguments built here
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        if self.log_file:
            output.close()  # type: ignore[union-attr]
        try:
            if nice := os.nice(0):  # ours, e.g. PIPELINE_NICE under the launcher: the server's session too
                session_nice(self.process.pid, nice)
            self._wait_ready(models, timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, models: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client = grpcclient.InferenceServerClient(self.url)
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise TritonStartError(
                        f"tritonserver exited with {self.process.returncode}{self._log_tail()}"
                    )
                try:
                    if client.is_server_ready() and all(client.is_model_ready(m) for m in models):
                        log.info("tritonserver ready on %s", self.url)
                        return
                except Exception:  # noqa: BLE001, S110 - not listening yet
                    pass
                time.sleep(0.25)
        finally:
            client.close()
        raise TritonStartError(f"tritonserver not ready after {timeout_s:.0f} s{self._log_tail()}")

    def _log_tail(self) -> str:
        if not self.log_file or not self.log_file.exists():
            return ""
        return "; last log lines:\n" + "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (Triton unloads its models and exits), SIGKILL after ``timeout_s``; the stubs go too."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("tritonserver ignored SIGTERM for %.0f s: killing it", timeout_s)
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._backends is not None:
            shutil.rmtree(self._backends, ignore_errors=True)
            self._backends = None

    def __enter__(self) -> "EmbeddedTriton":
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.launcher.tritonserver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log-file", type=Path, help="tritonserver's own log (default: discarded)")
    args = parser.parse_args(argv)
    configure_logging()
    server = EmbeddedTriton(
        args.repository, grpc_port=args.grpc_port, metrics_port=args.metrics_port, log_file=args.log_file
    )
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server.start()
    except TritonStartError as exc:
        log.error("%s", exc)
        return 1
    try:
        while not stopping:
            assert server.process is not None
            if server.process.poll() is not None:
                log.error("tritonserver exited with %s", server.process.returncode)
                return 1
            time.sleep(0.5)
    finally:
        server.stop()
    log.info("tritonserver stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
