"""Where each environment variable appears in ``docs/configuration.md`` and ``.env.example``: the section of
each setting of ``Settings``, and the variables Docker Compose and the Makefile read that ``Settings`` does
not (services/common/configuration.py writes both files from them)."""

from dataclasses import dataclass


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
            "tombstone_days",
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
        "The sources started, the synthetic feed, the pacing of every producer ([pipeline](pipeline.md)) "
        "and the live sources ([sources](sources.md)).",
        (
            "ingest_sources",
            "ingest_rate",
            "ingest_jitter",
            "ingest_scenario",
            "ingest_burst_topic",
            "ingest_seed",
            "ingest_languages",
            "ingest_metrics_port",
            "bluesky_jetstream_urls",
            "bluesky_rewind_s",
            "mastodon_instances",
            "mastodon_tags",
            "mastodon_poll_s",
            "mastodon_token",
            "mastodon_delete_days",
            "hackernews_api_url",
            "hackernews_poll_s",
            "hackernews_recheck_s",
            "rss_feeds",
            "rss_poll_s",
            "rss_seen_days",
        ),
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
            "admin_token",
            "max_topics",
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
