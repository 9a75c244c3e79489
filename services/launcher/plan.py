"""The start plan of ``make run``: what starts, in which order, on which ports, each waited on until it
answers (docs/running.md)."""

import asyncio
import socket
import sys
from pathlib import Path
from typing import IO

import tritonclient.grpc as grpcclient

from services.common.settings import Settings
from services.common.sources import metrics_ports
from services.launcher import datastores
from services.launcher.supervisor import ROOT, Service, StartError, Supervisor, http_ok, port_free

FRONTEND = ROOT / "frontend"
VITE = FRONTEND / "node_modules" / ".bin" / "vite"
STARTUP_TIMEOUT_S = {"triton": 180.0, "worker": 60.0, "backend": 60.0, "dashboard": 60.0}


def dashboard_built() -> bool:
    return (FRONTEND / "dist" / "index.html").is_file() and VITE.is_file()


class Platform(Supervisor):
    def __init__(self, settings: Settings, workers: int, logs: Path, data: Path, console: IO[str]) -> None:
        super().__init__(logs, console)
        self.settings = settings
        self.workers = workers
        self.data = data

    @property
    def triton_port(self) -> int:
        return int(self.settings.triton_url.rsplit(":", 1)[1])

    @property
    def worker_ports(self) -> list[int]:
        first = self.settings.worker_metrics_port
        return [first + i for i in range(self.workers)] if first else []

    @property
    def source_ports(self) -> list[int]:
        return metrics_ports(self.settings.ingest_sources, self.settings.ingest_metrics_port)

    def check_ports(self) -> None:
        ports = {
            self.settings.backend_port: "the API",
            **({self.settings.dashboard_port: "the dashboard"} if dashboard_built() else {}),
            self.triton_port: "Triton's gRPC",
            self.triton_port + 1: "Triton's metrics",
            **{port: "a worker's /metrics" for port in self.worker_ports},
            **{port: "a source's /metrics" for port in self.source_ports if port},
        }
        taken = [f"{port} ({what})" for port, what in ports.items() if not port_free(port)]
        if taken:
            raise StartError(
                f"in use by another program: {', '.join(taken)}. Is the platform already running from "
                "another folder? Stop it, or choose other ports (docs/configuration.md)."
            )

    async def up(self) -> None:
        """Every part, in order: datastores, schema (and partition maintenance on a timer), Triton,
        workers, API, an ingester for each of INGEST_SOURCES, dashboard."""
        settings, python = self.settings, sys.executable
        self.check_ports()
        postgres, redis = datastores.data_services(settings, self.data)
        await datastores.ensure(self, postgres, settings)
        await datastores.ensure(self, redis, settings)
        await self.run_once("migrate", [python, "-m", "services.common.db.migrate"])
        # Days made ahead and days past RETENTION_DAYS dropped, as the schema owner (the migrate command's
        # role); elsewhere a cron job or a Kubernetes CronJob runs it once at a time.
        every = str(settings.partition_maintenance_every_s)
        await self.start(
            Service("partitions", [python, "-m", "services.common.db.partitions", "--every", every])
        )
        await self.start(self._triton(), STARTUP_TIMEOUT_S["triton"])
        for i in range(self.workers):
            port = self.worker_ports[i] if self.worker_ports else 0
            # A name of its own, the same across restarts: a worker restarted after a crash first finishes
            # what it left pending, instead of leaving it to a takeover and a dead consumer in the group.
            name = f"worker-{i + 1}"
            worker = Service(
                name,
                [python, "-m", "services.worker"],
                env={"WORKER_METRICS_PORT": str(port), "WORKER_CONSUMER": f"{socket.gethostname()}-{name}"},
                ready=http_ok(f"http://127.0.0.1:{port}/health") if port else None,
                nice=settings.pipeline_nice,
            )
            await self.start(worker, STARTUP_TIMEOUT_S["worker"])
        api = http_ok(f"http://127.0.0.1:{settings.backend_port}/api/health")
        await self.start(
            Service("backend", [python, "-m", "services.backend"], ready=api), STARTUP_TIMEOUT_S["backend"]
        )
        for source, port in zip(settings.ingest_sources, self.source_ports, strict=True):
            # One process a source: one that cannot reach its servers keeps trying, and the others go on.
            env = {"INGEST_METRICS_PORT": str(port)}
            await self.start(
                Service(f"ingester-{source}", [python, "-m", "services.ingester", source], env=env)
            )
        if dashboard_built():
            await self.start(self._dashboard(), STARTUP_TIMEOUT_S["dashboard"])

    def _triton(self) -> Service:
        url = self.settings.triton_url

        async def ready() -> bool:
            client = grpcclient.InferenceServerClient(url)
            try:
                return bool(await asyncio.to_thread(client.is_server_ready))
            finally:
                client.close()

        argv = [sys.executable, "-m", "services.launcher.tritonserver", "--repository"]
        return Service(
            "triton",
            [
                *argv,
                str(self.settings.model_repository),
                "--grpc-port",
                str(self.triton_port),
                "--metrics-port",
                str(self.triton_port + 1),
                "--log-file",
                str(self.logs / "tritonserver.log"),
            ],
            ready=ready,
            nice=self.settings.pipeline_nice,
        )

    def _dashboard(self) -> Service:
        """The built page, with /api and /ws passed on to the API (frontend/vite.config.ts)."""
        port = self.settings.dashboard_port
        return Service(
            "dashboard",
            [str(VITE), "preview"],
            env={
                "DASHBOARD_PORT": str(port),
                "BACKEND_URL": f"http://127.0.0.1:{self.settings.backend_port}",
            },
            cwd=FRONTEND,
            ready=http_ok(f"http://127.0.0.1:{port}/"),
        )

    def where(self) -> list[str]:
        settings = self.settings
        api = f"http://127.0.0.1:{settings.backend_port}"
        metrics = "".join(f", http://127.0.0.1:{port}/metrics" for port in self.worker_ports)
        dashboard = (
            f"  Dashboard  http://127.0.0.1:{settings.dashboard_port}"
            if dashboard_built()
            else "  Dashboard  not built (make dashboard builds it; Node.js 20 and npm)"
        )
        return [
            "The platform is up.",
            f"  API        {api}  (OpenAPI {api}/docs, health {api}/api/health)",
            f"  WebSocket  ws://127.0.0.1:{settings.backend_port}/ws/sentiment",
            f"  Metrics    {api}/metrics{metrics}",
            dashboard,
            f"  Logs       {self.logs}/<name>.log (tritonserver.log: Triton's own)",
            "Ctrl-C stops everything.",
        ]
