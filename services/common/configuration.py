"""Write ``docs/configuration.md`` and ``.env.example`` from the settings class and the list below.

    python -m services.common.configuration --write   # after changing a setting or a variable below
    python -m services.common.configuration --check   # exit 1 when a file differs from what --write writes

Defaults and descriptions come from ``Settings`` (one definition each); the grouping below only says in
which section of the page each setting appears. ``OTHER`` declares what Docker Compose and the Makefile read
that ``Settings`` does not.
"""

import argparse
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MARKDOWN = Path("docs/configuration.md")
EXAMPLE = Path(".env.example")
COMMAND = "python -m services.common.configuration --write"
WIDTH = 110


@dataclass(frozen=True)
class Variable:
    """One environment variable as the page shows it; ``default`` None: it has none."""

    name: str
    default: str | None
    description: str
    required: bool = False  # .env.example leaves it uncommented, to be filled in
    accepts: str = ""  # the values it takes, when narrower than its type


@dataclass(frozen=True)
class Group:
    title: str
    intro: str
    variables: tuple[Variable, ...]
    in_env_file: bool = True  # whether what reads them reads .env too


# Section title, one line on who reads them, the settings in the order shown.
SETTINGS_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Data stores",
        "PostgreSQL and Redis, read by every service.",
        (
            "database_url",
            "db_pool_size",
            "db_wait_timeout_s",
            "retention_days",
            "rollup_retention_days",
            "partition_maintenance_every_s",
            "api_database_password",
            "worker_database_password",
            "redis_url",
            "redis_key_prefix",
            "stream_max_backlog",
        ),
    ),
    (
        "Inference",
        "The worker's Triton client ([models](models.md)).",
        ("triton_url", "triton_timeout_s", "triton_request_size", "model_repository"),
    ),
    (
        "Ingester",
        "The synthetic feed and the pacing of every producer ([pipeline](pipeline.md)).",
        ("ingest_rate", "ingest_jitter", "ingest_scenario", "ingest_burst_topic", "ingest_seed"),
    ),
    (
        "Worker",
        "Batching, delivery and the health server of each worker ([pipeline](pipeline.md)).",
        (
            "worker_batch_size",
            "worker_block_ms",
            "worker_linger_ms",
            "worker_concurrency",
            "worker_max_failures",
            "worker_systemic_failures",
            "worker_db_timeout_s",
            "worker_retry_max_s",
            "worker_claim_idle_s",
            "worker_consumer",
            "worker_metrics_port",
            "worker_metrics_host",
        ),
    ),
    (
        "LLM fallback",
        "The provider the worker classifies through when Triton is down, and second opinions "
        "([LLM fallback](llm-fallback.md)).",
        (
            "llm_provider",
            "llm_base_url",
            "llm_model",
            "llm_api_key",
            "llm_timeout_s",
            "llm_max_retries",
            "llm_batch_size",
            "llm_concurrency",
            "llm_rate_per_min",
            "triton_breaker_failures",
            "triton_probe_s",
            "llm_review_below",
            "llm_review_per_min",
        ),
    ),
    (
        "API",
        "The backend: access, caching and the WebSocket ([API](api.md)).",
        (
            "backend_host",
            "backend_port",
            "api_key",
            "ingest_token",
            "public_host",
            "cors_origins",
            "allowed_hosts",
            "cache_ttl_s",
            "feed_cache_ttl_s",
            "api_statement_timeout_ms",
            "api_max_body_bytes",
            "dead_letters_degraded_at",
            "ws_metrics_interval_s",
            "ws_subscription_check_s",
            "ws_max_clients",
            "ws_client_queue",
        ),
    ),
    (
        "Alerts",
        "The alert rule the backend evaluates ([API](api.md#the-alert-rule)).",
        (
            "alert_check_interval_seconds",
            "alert_window_minutes",
            "alert_negative_ratio_threshold",
            "alert_min_posts",
            "alert_cooldown_minutes",
            "alert_webhook_url",
            "alert_webhook_timeout_s",
            "alert_webhook_retries",
        ),
    ),
    (
        "Running",
        "`make run` and every service ([running](running.md)).",
        ("dashboard_port", "pipeline_nice", "log_level"),
    ),
)

# What docker-compose.yml and the Makefile read that Settings does not, with the defaults they give.
OTHER: tuple[Group, ...] = (
    Group(
        "Docker Compose",
        "Read by `docker-compose.yml` from the shell or from `.env` ([running](running.md#docker-compose), "
        "[deployment](deployment.md)). Compose builds each service's `DATABASE_URL`: the migrations' from the "
        "`POSTGRES_*` ones, the API's and the workers' from `API_DATABASE_PASSWORD` and "
        "`WORKER_DATABASE_PASSWORD`, which it requires too; and `REDIS_URL` from "
        "`REDIS_PASSWORD`. The passwords go into those URLs: long random URL-safe strings, e.g. `openssl rand "
        "-hex 24`.",
        (
            Variable(
                "POSTGRES_PASSWORD",
                None,
                "The password of the database's owner, which the migrations run as. Compose refuses to start "
                "without it; the services refuse a placeholder.",
                required=True,
            ),
            Variable(
                "REDIS_PASSWORD",
                None,
                "The password Redis requires of every client. Compose refuses to start without it; the "
                "services refuse a placeholder.",
                required=True,
            ),
            Variable("POSTGRES_USER", "sentiment", "The database's owner."),
            Variable("POSTGRES_DB", "sentiment", "The database name."),
            Variable(
                "PUBLISH_ADDRESS",
                "127.0.0.1",
                "The host's address the dashboard (DASHBOARD_PORT) and the API (BACKEND_PORT) are published "
                "on: this machine only by default; 0.0.0.0 for every interface. Not BACKEND_HOST, which is "
                "the address the API binds to inside its container.",
            ),
            Variable(
                "WORKERS",
                "2",
                "The workers: Compose's worker replicas, and the workers `make run` starts (the Makefile "
                "reads it from the shell or its command line: `make run WORKERS=4`).",
            ),
        ),
    ),
    Group(
        "Makefile",
        "Read by `make` from the shell or its command line, not from `.env`. The Makefile also exports "
        "HF_HUB_OFFLINE=1: nothing is downloaded from the Hugging Face hub at run time.",
        (
            Variable("PYTHON", "python3.11", "The interpreter that creates the virtualenv."),
            Variable("VENV", ".venv", "Where the virtualenv is."),
            Variable(
                "TORCH_PIP_ARGS",
                "",
                "Extra pip arguments for the one torch install, e.g. PyTorch's CPU-only wheel index on a "
                "machine whose default torch would be a several-GB CUDA build.",
            ),
            Variable(
                "DATA",
                "../shared/data",
                "The folder of labelled development files that `make bench-accuracy` reads (not part of "
                "the repository).",
            ),
        ),
        in_env_file=False,
    ),
)


def as_env(value: object) -> str:
    """A default as it would be written in the environment."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr


BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _accepts(field: FieldInfo) -> str:
    if get_origin(field.annotation) is Literal:
        return ", ".join(str(choice) for choice in get_args(field.annotation))
    parts = []
    for limit in field.metadata:  # annotated_types.Ge(ge=1), Le(le=1024), MaxLen(max_length=64), ...
        parts += [
            f"{sign} {as_env(getattr(limit, bound))}" for bound, sign in BOUNDS if hasattr(limit, bound)
        ]
        if hasattr(limit, "max_length"):
            parts.append(f"at most {limit.max_length} characters")
    return ", ".join(parts)


def setting(name: str, field: FieldInfo) -> Variable:
    default = None if _is_secret(field) else as_env(field.get_default(call_default_factory=True))
    if not field.description:
        raise ValueError(f"{name.upper()} has no description in services/common/settings.py")
    return Variable(name.upper(), default, field.description, accepts=_accepts(field))


def groups() -> tuple[Group, ...]:
    """Every setting in its section, then the variables of Compose and the Makefile."""
    fields = Settings.model_fields
    placed = [name for _, _, names in SETTINGS_GROUPS for name in names]
    unplaced = [name.upper() for name in fields if name not in placed]
    unknown = [name for name in placed if name not in fields]
    twice = sorted({name for name in placed if placed.count(name) > 1})
    if unplaced or unknown or twice:
        raise ValueError(
            "SETTINGS_GROUPS in services/common/configuration.py must name every setting once: "
            f"missing {unplaced}, unknown {unknown}, repeated {twice}"
        )
    ours = tuple(
        Group(title, intro, tuple(setting(name, fields[name]) for name in names))
        for title, intro, names in SETTINGS_GROUPS
    )
    return ours + OTHER


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def _code_names(text: str, names: set[str]) -> str:
    """Variable names, URLs and paths as code, outside what is code already."""
    token = re.compile(r"https?://[^\s,)]+|(?<![\w/:`])/[a-z][\w/]*|\bmake [a-z][a-z-]*|\b[A-Z][A-Z0-9_]+\b")

    def code(match: re.Match[str]) -> str:
        word = match[0]
        return f"`{word}`" if not word.isupper() or word in names else word

    parts = text.split("`")
    return "`".join(part if i % 2 else token.sub(code, part) for i, part in enumerate(parts))


def _cell(variable: Variable) -> str:
    if variable.default is None:
        return "none"
    return f"`{variable.default}`" if variable.default else "empty"


def markdown(all_groups: Sequence[Group]) -> str:
    names = {v.name for g in all_groups for v in g.variables}
    lines = [
        f"<!-- Generated by `{COMMAND}` from services/common/settings.py: edit there, not here. -->",
        "",
        "# Configuration",
        "",
        "Every service reads one settings class, [`services/common/settings.py`](../services/common/settings.py), "
        "from the environment or from a `.env` file in its working directory (the environment wins). A value "
        "that does not fit is refused at start with a message naming the variable, e.g. `invalid environment: "
        "DATABASE_URL: must start with postgresql+asyncpg://, not mysql://`. An empty value counts as unset: "
        "the default applies. Secrets have no default (empty means off) and a placeholder such as `changeme` "
        "is refused.",
        "",
        "[`.env.example`](../.env.example) lists the same variables, each commented out at its default: copy it "
        "to `.env` and uncomment what you change. The dashboard's build reads two more (`VITE_API_BASE`, "
        "`BACKEND_URL`): see [frontend/README.md](../frontend/README.md).",
        "",
        " · ".join(f"[{g.title}](#{_anchor(g.title)})" for g in all_groups),
        "",
    ]
    for group in all_groups:
        lines += [f"## {group.title}", "", _code_names(group.intro, names), ""]
        lines += ["| variable | default | accepts | description |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{v.name}` | {_cell(v)} | {v.accepts} | {_code_names(v.description, names)} |"
            for v in group.variables
        ]
        lines.append("")
    return "\n".join(lines)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - 2, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def env_example(all_groups: Sequence[Group]) -> str:
    lines = [
        f"# Generated by `{COMMAND}` (docs/configuration.md says the same).",
        "# Copy to .env: Docker Compose reads it, and so do `make run` and the services (a variable set in the",
        "# environment wins over this file). Every variable is commented out at its default; uncomment what you",
        "# change; the ones left uncommented must be set. (The Makefile's own variables are not here: make",
        "# does not read .env.)",
    ]
    # The group with a value to fill in first; make does not read .env.
    chosen = [g for g in all_groups if g.in_env_file]
    for group in sorted(chosen, key=lambda g: not any(v.required for v in g.variables)):
        lines += ["", f"# --- {group.title} " + "-" * (WIDTH - 7 - len(group.title))]
        for v in group.variables:
            lines += _comment(f"{v.description} Accepts: {v.accepts}." if v.accepts else v.description)
            lines.append(f"{v.name}=" if v.required else f"# {v.name}={v.default or ''}")
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    """What ``--write`` writes, by path relative to the repository root."""
    all_groups = groups()
    return {MARKDOWN: markdown(all_groups), EXAMPLE: env_example(all_groups)}


def stale(root: Path | None = None) -> list[Path]:
    """The files under ``root`` (the repository's) that differ from what ``--write`` would write."""
    root = root or ROOT
    return [
        path
        for path, text in outputs().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.configuration", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write docs/configuration.md and .env.example")
    mode.add_argument(
        "--check", action="store_true", help="exit 1 when either differs from what --write writes"
    )
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale(ROOT)
        for path in out_of_date:
            print(f"{path} is out of date: run {COMMAND}", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, text in outputs().items():
        (ROOT / path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
