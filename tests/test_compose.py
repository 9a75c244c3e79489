"""The Compose files are what users run; Docker cannot run here, so `docker-compose config` checks them."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.configuration import as_env
from services.common.db.roles import API_ROLE, WORKER_ROLE
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose") or "docker-compose (missing: `make test-deps` installs it)"
SETTINGS = {name.upper(): field for name, field in Settings.model_fields.items()}
# The passwords Compose refuses to start without; what each test's env file starts with.
PASSWORDS = {
    "POSTGRES_PASSWORD": "k7-not-a-placeholder",
    "REDIS_PASSWORD": "r3-not-a-placeholder",
    "API_DATABASE_PASSWORD": "a5-not-a-placeholder",
    "WORKER_DATABASE_PASSWORD": "w9-not-a-placeholder",
}
ENV = "".join(f"{name}={value}\n" for name, value in PASSWORDS.items())
# What a container gets instead of the settings' default, on purpose: the services' host names, the volume,
# every interface, the ports that the health checks and the port mappings name, and the roles' passwords,
# which Compose requires.
PINNED = {
    "DATABASE_URL",
    "API_DATABASE_PASSWORD",
    "WORKER_DATABASE_PASSWORD",
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


def resolved(tmp_path: Path, env: str = "", *files: str) -> dict[str, Any]:
    """The services as Compose resolves them from ``ENV`` and ``env``, failing on Compose's message."""
    done = config(tmp_path, ENV + env, *files)
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return services


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """A service's port mappings as (host address, host port, container port), in either form Compose writes."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", "0.0.0.0"), int(port["published"]), int(port["target"])))  # noqa: S104
        else:
            address, host, container = str(port).split("/")[0].rsplit(":", 2)
            found.append((address, int(host), int(container)))
    return found


def written(name: str) -> dict[str, Any]:
    """A Compose file's services as written (anchors merged), before Compose resolves anything."""
    services: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())["services"]
    return services


def test_the_cpu_file_is_valid_and_keeps_the_data_services_private(tmp_path: Path) -> None:
    services = resolved(tmp_path)
    assert {"postgres", "redis", "migrate", "model-export", "triton", "worker", "ingester"} <= services.keys()
    for private in ("postgres", "redis", "triton", "worker"):
        assert "ports" not in services[private], f"{private} must not be published"
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
    assert published(backend) == [("127.0.0.1", 8000, 8000)], "on this machine only, unless PUBLISH_ADDRESS"
    assert backend["environment"]["BACKEND_HOST"] == "0.0.0.0"  # noqa: S104 - published on purpose
    frontend = services["frontend"]
    assert frontend["build"]["context"].endswith("frontend")
    assert published(frontend) == [("127.0.0.1", 3000, 8080)]
    assert frontend["depends_on"]["backend"]["condition"] == "service_healthy"
    assert {name for name, service in services.items() if "ports" in service} == {"backend", "frontend"}


def test_publish_address_publishes_the_dashboard_and_the_api_on_another_address(tmp_path: Path) -> None:
    services = resolved(tmp_path, "PUBLISH_ADDRESS=0.0.0.0\nDASHBOARD_PORT=80\n")
    assert published(services["frontend"]) == [("0.0.0.0", 80, 8080)]  # noqa: S104 - what was asked
    assert published(services["backend"]) == [("0.0.0.0", 8000, 8000)]  # noqa: S104
    assert {name for name, service in services.items() if "ports" in service} == {"backend", "frontend"}


def test_the_api_and_the_workers_connect_as_their_own_roles_and_the_ingester_not_at_all(
    tmp_path: Path,
) -> None:
    services = resolved(tmp_path)
    database = "@postgres:5432/sentiment"
    owner = services["migrate"]["environment"]
    assert (
        owner["DATABASE_URL"] == f"postgresql+asyncpg://sentiment:{PASSWORDS['POSTGRES_PASSWORD']}{database}"
    )
    assert owner["API_DATABASE_PASSWORD"] == PASSWORDS["API_DATABASE_PASSWORD"], "the migrations set it"
    assert owner["WORKER_DATABASE_PASSWORD"] == PASSWORDS["WORKER_DATABASE_PASSWORD"]
    api = f"postgresql+asyncpg://{API_ROLE}:{PASSWORDS['API_DATABASE_PASSWORD']}{database}"
    assert services["backend"]["environment"]["DATABASE_URL"] == api
    worker = f"postgresql+asyncpg://{WORKER_ROLE}:{PASSWORDS['WORKER_DATABASE_PASSWORD']}{database}"
    assert services["worker"]["environment"]["DATABASE_URL"] == worker
    assert "DATABASE_URL" not in services["ingester"]["environment"], "it needs no database"
    # Each password only where it is used: the owner's in PostgreSQL, the migrations and the partition
    # maintenance (which makes and drops tables) alone.
    holders = {
        "POSTGRES_PASSWORD": {"postgres", "migrate", "partitions"},
        "API_DATABASE_PASSWORD": {"migrate", "backend"},
        "WORKER_DATABASE_PASSWORD": {"migrate", "worker"},
    }
    for password, expected in holders.items():
        having = {
            name for name, spec in services.items() if PASSWORDS[password] in str(spec.get("environment"))
        }
        assert having == expected, f"{password} reaches {sorted(having)}"


def test_redis_wants_its_password_and_every_client_has_it(tmp_path: Path) -> None:
    services = resolved(tmp_path)
    password = PASSWORDS["REDIS_PASSWORD"]
    redis = services["redis"]
    assert redis["environment"] == {"REDIS_PASSWORD": password, "REDISCLI_AUTH": password}
    assert password not in " ".join(redis["command"]), "read from the environment, not written in the command"
    server = written("docker-compose.yml")["redis"]["command"]
    assert server[:2] == ["sh", "-c"]
    assert server[2].startswith("exec redis-server "), "redis-server replaces the shell: SIGTERM reaches it"
    assert '--requirepass "$$REDIS_PASSWORD"' in server[2]
    assert "--appendonly yes" in server[2]
    assert "PONG" in " ".join(redis["healthcheck"]["test"]), "redis-cli exits 0 on NOAUTH too"
    for name in ("worker", "ingester", "backend"):
        assert services[name]["environment"]["REDIS_URL"] == f"redis://:{password}@redis:6379/0", name
    assert "REDIS_URL" not in services["migrate"]["environment"], "the migrations need no Redis"


@pytest.mark.parametrize("files", [(), ("docker-compose.gpu.yml",)], ids=["cpu", "gpu"])
def test_every_container_drops_every_capability_and_gains_no_privilege(
    tmp_path: Path, files: tuple[str, ...]
) -> None:
    services = resolved(tmp_path, "", *files)
    for name, service in services.items():
        assert service.get("cap_drop") == ["ALL"], f"{name} keeps capabilities"
        assert "no-new-privileges:true" in service.get("security_opt", []), f"{name} may gain privileges"
        assert "cap_add" not in service, (
            f"{name} adds a capability back: say why in the Compose file, and here"
        )
    # Their images start as root to chown their data and switch user, which needs capabilities: not so.
    assert services["postgres"]["user"] == "postgres"
    assert services["redis"]["user"] == "redis"


def test_nginx_passes_the_api_and_the_websocket_on_to_the_backend() -> None:
    conf = (ROOT / "frontend" / "nginx.conf").read_text()
    assert "location /api/ {\n        proxy_pass http://backend:8000;" in conf
    websocket = conf[conf.index("location /ws/") :]
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert 'proxy_set_header Connection "upgrade";' in websocket
    assert "try_files $uri /index.html;" in conf


def test_the_number_of_workers_comes_from_the_environment(tmp_path: Path) -> None:
    assert resolved(tmp_path, "WORKERS=5\n")["worker"]["deploy"]["replicas"] == 5


def test_the_workers_get_every_worker_and_llm_setting_from_the_env_file(tmp_path: Path) -> None:
    services = resolved(tmp_path, "LLM_PROVIDER=groq\nLLM_API_KEY=gsk-from-env\n")
    listed = written("docker-compose.yml")["worker"]["environment"]
    for field in Settings.model_fields:
        if field.startswith(("worker_", "llm_", "triton_breaker", "triton_probe")) and field not in (
            "worker_consumer",  # one name for every replica would make them one consumer
            "worker_database_password",  # the migrations': the workers' is in their DATABASE_URL
        ):
            assert field.upper() in listed, f"{field.upper()} does not reach the workers"
    environment = services["worker"]["environment"]
    assert environment["LLM_PROVIDER"] == "groq"
    assert environment["LLM_API_KEY"] == "gsk-from-env"
    assert environment.get("LLM_TIMEOUT_S") is None, "unset: the setting's own default applies"


def test_the_ingester_runs_every_source_in_ingest_sources_with_their_settings(tmp_path: Path) -> None:
    services = resolved(tmp_path, "INGEST_SOURCES=bluesky\nINGEST_LANGUAGES=en,de\n")
    ingester = services["ingester"]
    assert ingester["command"] == ["python", "-m", "services.ingester", "sources"]
    assert "model-export" in ingester["depends_on"], "the manifest names the languages analysed"
    listed = written("docker-compose.yml")["ingester"]["environment"]
    for field in Settings.model_fields:
        if (
            field.startswith(("ingest_", "bluesky_", "mastodon_", "hackernews_", "rss_"))
            and field != "ingest_token"
        ):  # the token is the API's
            assert field.upper() in listed, f"{field.upper()} does not reach the ingester"
    assert (ingester["environment"]["INGEST_SOURCES"], ingester["environment"]["INGEST_LANGUAGES"]) == (
        "bluesky",
        "en,de",
    )


def test_a_setting_comes_from_the_env_file_or_the_shell_the_shell_winning(tmp_path: Path) -> None:
    env = ENV + "WORKER_BATCH_SIZE=32\nINGEST_RATE=5\n"
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
    triton = resolved(tmp_path, "", "docker-compose.gpu.yml")["triton"]
    assert "--model-config-name=gpu" in triton["command"]
    [device] = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_each_password_has_no_default(tmp_path: Path, password: str) -> None:
    env = "".join(f"{name}={value}\n" for name, value in PASSWORDS.items() if name != password)
    done = config(tmp_path, env + "POSTGRES_USER=someone\n")
    assert done.returncode != 0
    assert f"set {password} in .env" in done.stderr


def test_the_backend_gets_every_api_alert_and_websocket_setting_from_the_env_file(tmp_path: Path) -> None:
    services = resolved(tmp_path, "INGEST_TOKEN=tok-from-env\nALERT_MIN_POSTS=25\nPUBLIC_HOST=dash.example\n")
    listed = written("docker-compose.yml")["backend"]["environment"]
    access = ("api_key", "ingest_token", "public_host", "allowed_hosts")
    for field in Settings.model_fields:
        if field.startswith(("alert_", "ws_", "cache_", "cors_")) or field in access:
            assert field.upper() in listed, f"{field.upper()} does not reach the backend"
    environment = services["backend"]["environment"]
    assert environment["PUBLIC_HOST"] == "dash.example"
    assert environment["INGEST_TOKEN"] == "tok-from-env"
    assert environment["ALERT_MIN_POSTS"] == "25"
    assert environment.get("STREAM_MAX_BACKLOG") is None, "unset: the setting's own default applies"
