"""The Compose files are what users run; Docker cannot run here, so `docker-compose config` checks them."""

import shutil
import subprocess
from pathlib import Path

import yaml

from services.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose") or "docker-compose (missing: `make system-deps` installs it)"


def config(tmp_path: Path, env: str, *files: str) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text(env)
    chosen = [arg for name in ("docker-compose.yml", *files) for arg in ("-f", str(ROOT / name))]
    return subprocess.run(
        [COMPOSE, "--env-file", str(env_file), *chosen, "config"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
    environment = yaml.safe_load(done.stdout)["services"]["worker"]["environment"]
    for field in Settings.model_fields:
        if (
            field.startswith(("worker_", "llm_", "triton_breaker", "triton_probe"))
            and field != "worker_consumer"
        ):
            assert field.upper() in environment, f"{field.upper()} does not reach the workers"
    assert environment["LLM_PROVIDER"] == "groq"
    assert environment["LLM_API_KEY"] == "gsk-from-env"


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
    environment = yaml.safe_load(done.stdout)["services"]["backend"]["environment"]
    for field in Settings.model_fields:
        if field.startswith(("alert_", "ws_", "cache_", "cors_")) or field in ("api_key", "ingest_token"):
            assert field.upper() in environment, f"{field.upper()} does not reach the backend"
    assert environment["INGEST_TOKEN"] == "tok-from-env"
    assert environment["ALERT_MIN_POSTS"] == "25"
    assert environment["STREAM_MAX_BACKLOG"] == "100000"
