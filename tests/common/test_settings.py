import subprocess
import sys
from typing import get_args

import pytest
from pydantic import SecretStr

from services.common.settings import Settings, SettingsError, SyntheticTopic, load_settings, without_port
from services.ingester.synthetic import TOPICS


def test_defaults_work_for_a_local_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "LOG_LEVEL", "DB_WAIT_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file here
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/sentiment"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.redis_key_prefix == ""
    assert settings.log_level == "INFO"


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app:s3cr3t-9f2a@db:5433/posts")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6380/2")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "staging:")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DB_WAIT_TIMEOUT_S", "5.5")
    settings = load_settings()
    assert settings.database_url.endswith("@db:5433/posts")
    assert settings.redis_url == "redis://cache:6380/2"
    assert settings.redis_key_prefix == "staging:"
    assert settings.log_level == "DEBUG"
    assert settings.db_wait_timeout_s == 5.5


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db", "postgresql+asyncpg"),
        ("DATABASE_URL", "postgresql+asyncpg://postgres@localhost:5432", "names no database"),
        ("DATABASE_URL", "not a url", "not a database URL"),
        ("DATABASE_URL", "postgresql+asyncpg://app:changeme@db/posts", "placeholder password"),
        ("REDIS_URL", "http://localhost:6379", "redis://"),
        ("REDIS_KEY_PREFIX", "has space:", "pattern"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
        ("DB_WAIT_TIMEOUT_S", "-1", "greater than 0"),
        ("DB_WAIT_TIMEOUT_S", "soon", "valid number"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{variable}:" in message
    assert complaint in message


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"LLM_PROVIDER": "groq"}, "LLM_API_KEY: LLM_PROVIDER groq needs an API key"),
        ({"LLM_PROVIDER": "custom", "LLM_MODEL": "m"}, "LLM_BASE_URL: "),
        ({"LLM_REVIEW_BELOW": "0.5"}, "LLM_REVIEW_BELOW: second opinions need an LLM_PROVIDER"),
        ({"LLM_PROVIDER": "gemini"}, "LLM_PROVIDER: "),
    ],
)
def test_an_llm_provider_must_be_complete(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    for variable in ("LLM_PROVIDER", "LLM_API_KEY", "LLM_BASE_URL", "LLM_MODEL", "LLM_REVIEW_BELOW"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "tcp://x")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match=r"REDIS_URL: .*LOG_LEVEL: "):
        load_settings()


@pytest.mark.parametrize(
    "service",
    [
        "services.common.db.migrate",
        "services.backend",
        "services.worker",
        "services.ingester",
        "services.launcher",
    ],
)
def test_every_service_refuses_to_start_on_a_bad_value(service: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:///x.db"}
    done = subprocess.run(
        [sys.executable, "-m", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DATABASE_URL: " in done.stderr
    assert "Traceback" not in done.stderr


# Every secret setting, those added later included: a SecretStr field is a secret.
SECRETS = [name.upper() for name, field in Settings.model_fields.items() if field.annotation is SecretStr]


def test_the_secrets_are_the_settings_that_hold_one() -> None:
    expected = {"API_KEY", "INGEST_TOKEN", "LLM_API_KEY", "ALERT_WEBHOOK_URL"}
    assert expected | {"API_DATABASE_PASSWORD", "WORKER_DATABASE_PASSWORD"} <= set(SECRETS)


@pytest.mark.parametrize("variable", SECRETS)
@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE_ME", "password", " secret "])
def test_a_placeholder_secret_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, placeholder: str
) -> None:
    monkeypatch.setenv(variable, placeholder)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    expected = f"invalid environment: {variable}: is a placeholder: set a real one, or leave it empty (off)"
    assert str(caught.value) == expected  # names the variable, never the value


@pytest.mark.parametrize("variable", SECRETS)
def test_an_empty_secret_means_off_and_a_real_one_is_kept_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "")
    assert getattr(load_settings(), variable.lower()).get_secret_value() == ""
    real = "https://hooks.example.org/k-7f3a9c2e51d04b86"
    monkeypatch.setenv(variable, real)
    settings = load_settings()
    assert getattr(settings, variable.lower()).get_secret_value() == real
    assert "7f3a9c2e51d04b86" not in repr(settings)
    assert "7f3a9c2e51d04b86" not in str(settings)


def test_a_placeholder_in_a_data_store_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:changeme@redis:6379/0")
    with pytest.raises(SettingsError, match="REDIS_URL: has a placeholder password"):
        load_settings()


def test_a_webhook_url_that_is_no_url_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "hooks.example.org/k-7f3a9c2e51d04b86")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "ALERT_WEBHOOK_URL: must be an http:// or https:// URL" in str(caught.value)
    assert "7f3a9c2e51d04b86" not in str(caught.value)


def test_one_public_host_name_sets_the_origins_and_the_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_HOST", "Listen.Example.org")
    settings = load_settings()
    assert "https://listen.example.org" in settings.cors_origins
    assert "http://localhost:3000" in settings.cors_origins
    assert "listen.example.org" in settings.allowed_hosts
    assert "127.0.0.1" in settings.allowed_hosts
    monkeypatch.setenv("CORS_ORIGINS", "https://other.example.org")  # a list given outright stands
    assert load_settings().cors_origins == ["https://other.example.org"]
    monkeypatch.setenv("PUBLIC_HOST", "listen.example.org:8443")
    assert "listen.example.org" in load_settings().allowed_hosts


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BATCH_SIZE", "")
    assert load_settings().worker_batch_size == Settings.model_fields["worker_batch_size"].default


def test_the_burst_topic_is_one_of_the_synthetic_feeds_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(get_args(SyntheticTopic)) == set(TOPICS), "settings.py and synthetic.py name the same topics"
    monkeypatch.setenv("INGEST_BURST_TOPIC", "weather")
    assert load_settings().ingest_burst_topic == "weather"
    monkeypatch.setenv("INGEST_BURST_TOPIC", "gardening")
    with pytest.raises(SettingsError, match=r"INGEST_BURST_TOPIC: .*'airline'"):
        load_settings()


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("example.org:8443", "example.org"),
        ("example.org", "example.org"),
        ("[::1]:8000", "[::1]"),
        ("[::1]", "[::1]"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_a_host_header_is_read_without_its_port(host: str, name: str) -> None:
    assert without_port(host) == name
