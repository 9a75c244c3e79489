"""The Compose files are what users run; Docker cannot run here, so `docker-compose config` checks them."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose") or "docker-compose (missing: `make system-deps` installs it)"


def config(tmp_path: Path, env: str) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text(env)
    return subprocess.run(
        [COMPOSE, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), "config"],
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
    assert {"postgres", "redis", "migrate"} <= services.keys()
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]
    assert "--appendonly" in services["redis"]["command"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = services["migrate"]["environment"]["DATABASE_URL"]
    assert url == "postgresql+asyncpg://sentiment:k7-not-a-placeholder@postgres:5432/sentiment"


def test_the_database_password_has_no_default(tmp_path: Path) -> None:
    done = config(tmp_path, "POSTGRES_USER=someone\n")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr
