"""The Compose files are what users run; Docker cannot run here, so `docker-compose config` checks them."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from services.common.configuration import as_env
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose") or "docker-compose (missing: `make test-deps` installs it)"
SETTINGS = {name.upper(): field for name, field in Settings.model_fields.items()}
# What a container gets instead of the settings' default, on purpose: the services' host names, the volume,
# every interface, and the ports that the health checks and the port mappings name.
PINNED = {
    "DATABASE_URL",
    "REDIS_URL",
    "TRITON_URL",
    "MODEL_REPOSITORY",
    "WORKER_METRICS_HOST",
    "WORKER_METRICS_PORT",
    "BACKEND_HOST",
    "BACKEND_PORT",
}
PUBLISHED = {"BACKEND_PORT", "DASHBOARD_PORT"}  # the host ports, which Compose itself reads
GPU_DEFAULTS = {"TRITON_REQUEST_SIZE", "WORKER_BATCH_SIZE"}  # the GPU overlay's own, larger defaults


def config(
    tmp_path: Path, env: str, *files: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text(env)
    chosen = [arg for name in ("docker-compose.yml", *files) for arg in ("-f", str(ROOT / name))]
    return subprocess.run(
        [COMPOSE, "--env-file", str(env_file), *chosen, "config"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **(environ or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def written(name: str) -> dict[str, Any]:
    """A Compose file's services as written (anchors merged), before Compose resolves anything."""
    services: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())["services"]
    return services


def test_the_cpu_file_is_valid_and_keeps_the_data_services_private(tmp_path: Path) -> None:
    done = config(tmp_path, "POSTGRES_PASSWORD=k7-not-a-placeholder\n")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert {"postgres", "redis", "migrate", "model-export", "triton", "worker", "ingester"} <= services.keys()
    for private in ("postgres", "redis", "triton", "worker"):
        assert "ports" not in services[private], f"{private} must not be published"
    assert "--appendonly" in services["redis"]["command"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = services["migrate"]["environment"]["DATABASE_URL"]
    assert url == "postgresql+asyncpg://sentiment:k7-not-a-placeholder@postgres:5432/sentiment"
    triton = services["triton"]
    assert "--model-config-name=cpu" in triton["command"]
    assert triton["depends_on"]["model-export"]["condition"] == "service_completed_successfully"
    assert "deploy" not in triton
    worker = services["worker"]
    assert worker["command"] == ["python", "-m", "services.worker"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["triton"]["condition"] == "service_healthy"
    assert worker["deploy"]["replicas"] == 2
    assert worker["environment"]["WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - scraped inside the network
    assert worker["volumes"] == ["models:/models:ro"], "the served model's tokenizer, read-only"
    backend = services["backend"]
    assert backend["command"] == ["python", "-m", "services.backend"]
    assert [(p["published"], p["target"]) for p in backend["ports"]] in ([("8000", 8000)], [(8000, 8000)])
    assert backend["environment"]["BACKEND_HOST"] == "0.0.0.0"  # noqa: S104 - published on purpose
    frontend = services["frontend"]
    assert frontend["build"]["context"].endswith("frontend")
    assert [(p["published"], p["target"]) for p in frontend["ports"]] in ([("3000", 8080)], [(3000, 8080)])
    assert frontend["depends_on"]["backend"]["condition"] == "service_healthy"
    assert {name for name, service in services.items() if "ports" in service} == {"backend", "frontend"}


def test_nginx_passes_the_api_and_the_websocket_on_to_the_backend() -> None:
    conf = (ROOT / "frontend" / "nginx.conf").read_text()
    assert "location /api/ {\n        proxy_pass http://backend:8000;" in conf
    websocket = conf[conf.index("location /ws/") :]
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert 'proxy_set_header Connection "upgrade";' in websocket
    assert "try_files $uri /index.html;" in conf


def test_the_number_of_workers_comes_from_the_environment(tmp_path: Path) -> None:
    done = config(tmp_path, "POSTGRES_PASSWORD=k7-not-a-placeholder\nWORKERS=5\n")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["services"]["worker"]["deploy"]["replicas"] == 5


def test_the_workers_get_every_worker_and_llm_setting_from_the_env_file(tmp_path: Path) -> None:
    env = "POSTGRES_PASSWORD=k7-not-a-placeholder\nLLM_PROVIDER=groq\nLLM_API_KEY=gsk-from-env\n"
    done = config(tmp_path, env)
    assert done.returncode == 0, done.stderr
    listed = written("docker-compose.yml")["worker"]["environment"]
    for field in Settings.model_fields:
        if (
            field.startswith(("worker_", "llm_", "triton_breaker", "triton_probe"))
            and field != "worker_consumer"  # one name for every replica would make them one consumer
        ):
            assert field.upper() in listed, f"{field.upper()} does not reach the workers"
    environment = yaml.safe_load(done.stdout)["services"]["worker"]["environment"]
    assert environment["LLM_PROVIDER"] == "groq"
    assert environment["LLM_API_KEY"] == "gsk-from-env"
    assert environment.get("LLM_TIMEOUT_S") is None, "unset: the setting's own default applies"


def test_a_setting_comes_from_the_env_file_or_the_shell_the_shell_winning(tmp_path: Path) -> None:
    env = "POSTGRES_PASSWORD=k7-not-a-placeholder\nWORKER_BATCH_SIZE=32\nINGEST_RATE=5\n"
    done = config(tmp_path, env, environ={"INGEST_RATE": "7", "LOG_LEVEL": "DEBUG"})
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["worker"]["environment"]["WORKER_BATCH_SIZE"] == "32"
    assert services["ingester"]["environment"]["INGEST_RATE"] == "7"
    assert services["backend"]["environment"]["LOG_LEVEL"] == "DEBUG"


def test_compose_restates_no_default_of_the_settings() -> None:
    for name in ("docker-compose.yml", "docker-compose.gpu.yml"):
        for service, spec in written(name).items():
            for variable, value in (spec.get("environment") or {}).items():
                if variable in SETTINGS and value is not None:
                    gpu_default = name == "docker-compose.gpu.yml" and variable in GPU_DEFAULTS
                    assert variable in PINNED or gpu_default, (
                        f"{name}: {service} sets {variable}: pass it by name only (`{variable}:`), "
                        "so that its default stays in services/common/settings.py"
                    )
        text = (ROOT / name).read_text()
        for variable, fallback in re.findall(r"\$\{([A-Z0-9_]+):?-([^}]*)\}", text):
            if variable not in SETTINGS:
                continue  # Compose's own variables (POSTGRES_*, WORKERS) have their defaults here
            default = as_env(SETTINGS[variable].get_default(call_default_factory=True))
            if variable in PUBLISHED and name == "docker-compose.yml":
                assert fallback == default, f"{name}: the published {variable} is not the setting's {default}"
            else:
                gpu_default = name == "docker-compose.gpu.yml" and variable in GPU_DEFAULTS
                assert gpu_default, f"{name} restates {variable}'s default: pass it by name only"
                assert fallback != default, f"{name}: {variable} repeats the setting's default"


def test_the_gpu_overlay_gives_triton_the_gpus_and_the_gpu_profile(tmp_path: Path) -> None:
    done = config(tmp_path, "POSTGRES_PASSWORD=k7-not-a-placeholder\n", "docker-compose.gpu.yml")
    assert done.returncode == 0, done.stderr
    triton = yaml.safe_load(done.stdout)["services"]["triton"]
    assert "--model-config-name=gpu" in triton["command"]
    [device] = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]


def test_the_database_password_has_no_default(tmp_path: Path) -> None:
    done = config(tmp_path, "POSTGRES_USER=someone\n")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr


def test_the_backend_gets_every_api_alert_and_websocket_setting_from_the_env_file(tmp_path: Path) -> None:
    env = "POSTGRES_PASSWORD=k7-not-a-placeholder\nINGEST_TOKEN=tok-from-env\nALERT_MIN_POSTS=25\n"
    done = config(tmp_path, env)
    assert done.returncode == 0, done.stderr
    listed = written("docker-compose.yml")["backend"]["environment"]
    for field in Settings.model_fields:
        if field.startswith(("alert_", "ws_", "cache_", "cors_")) or field in ("api_key", "ingest_token"):
            assert field.upper() in listed, f"{field.upper()} does not reach the backend"
    environment = yaml.safe_load(done.stdout)["services"]["backend"]["environment"]
    assert environment["INGEST_TOKEN"] == "tok-from-env"
    assert environment["ALERT_MIN_POSTS"] == "25"
    assert environment.get("STREAM_MAX_BACKLOG") is None, "unset: the setting's own default applies"
