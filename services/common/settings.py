"""The one settings class: every knob of every service, read from the environment.

Variables are the field names in upper case (``DATABASE_URL`` for ``database_url``), read from the
environment or from a ``.env`` file in the working directory (the environment wins). A value that does not
fit its type or range is refused at start with a message naming the variable. ``docs/configuration.md``
and ``.env.example`` are generated from the descriptions here (``python -m services.common.configuration``).
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.common.messages import primary_subtag

# Values copied from an example file and never changed; refused wherever a secret goes.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "changethis", "password", "secret", "placeholder"}
)

# The synthetic feed's scenarios and topics (services/ingester/synthetic.py writes the posts for each).
Scenario = Literal["steady", "burst"]
SyntheticTopic = Literal["phone", "airline", "coffee", "election", "streaming", "football", "weather"]
# The ingester's sub-commands that make run and Compose start (INGEST_SOURCES).
IngestSource = Literal["synthetic", "bluesky", "mastodon", "hackernews", "rss"]


class SettingsError(ValueError):
    """The environment holds a value the platform cannot run with."""


def is_placeholder(secret: str) -> bool:
    """A secret left as an example file has it (``changeme``, ``password``, ...)."""
    return secret.strip().lower() in PLACEHOLDER_SECRETS


def without_port(host: str) -> str:
    """A Host header's name alone: ``example.org:8443`` -> ``example.org``, ``[::1]:8000`` -> ``[::1]``."""
    if host.startswith("["):  # an IPv6 address, its colons in brackets
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


class Settings(BaseSettings):
    # An empty variable counts as unset, so `NAME=` in .env (or passed on by Compose) means the default.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/sentiment",
        description="PostgreSQL for posts, analyses and alerts, as a SQLAlchemy URL with the asyncpg driver. "
        "A placeholder password (changeme, password, ...) is refused.",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis for the stream, pub/sub and the cache (redis://, rediss:// or unix://).",
    )
    redis_key_prefix: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9:_.-]*$",
        description="Put before every Redis key and channel name, so that several deployments (or test runs) "
        "can share one Redis. Letters, digits and :_.- only.",
    )
    triton_url: str = Field(
        "127.0.0.1:8001",
        pattern=r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$",
        description="Triton's gRPC endpoint, host:port (make run's embedded Triton serves its metrics on the "
        "next port).",
    )
    triton_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Deadline of one inference call, in seconds; past it the call fails as Triton unavailable.",
    )
    triton_request_size: int = Field(
        8,
        ge=1,
        le=4096,
        description="Texts per inference request (at most the served max_batch_size). A batch is sorted by "
        "length and sent as concurrent requests of this many, each padded only to its own longest text: "
        "padding short posts to a long one's length more than halves the speed on a CPU.",
    )
    model_repository: Path = Field(
        Path("model_repository"),
        description="Triton's model repository. The client reads the served model's tokenizer from it and "
        "refuses one whose fingerprint differs from the served model's.",
    )
    api_database_password: SecretStr = Field(
        SecretStr(""),
        description="The migrate command gives the API's database role, sentiment_api (reads; writes only "
        "alerts), this password. Empty: left as it is (a local PostgreSQL that trusts its users needs none). "
        "A placeholder is refused.",
    )
    worker_database_password: SecretStr = Field(
        SecretStr(""),
        description="The migrate command gives the workers' database role, sentiment_worker (writes posts, "
        "analyses and dead letters; no schema changes), this password. Empty: left as it is. A placeholder "
        "is refused.",
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        le=1000,
        description="Connections the API keeps open to PostgreSQL; as many again may open under a burst "
        "(each PostgreSQL connection is a process: opening one per request costs more than the request).",
    )
    db_wait_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long the migrate command waits for PostgreSQL before it gives up (exit 1).",
    )
    retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days of posts and analyses kept, by the post's created_at: the partition maintenance "
        "drops each day's partitions once the whole day is older (an hour's grace after). A post older than "
        "this is refused (a 422 naming created_at, a dead letter, a replay's invalid record).",
    )
    rollup_retention_days: int = Field(
        400,
        ge=1,
        le=36500,
        description="Days of minute and hour rollups kept (at least RETENTION_DAYS): the charts keep counting "
        "the days whose posts are dropped.",
    )
    tombstone_days: int = Field(
        7,
        ge=2,
        le=3650,
        description="Days the tombstone of a post deleted at its source is kept (the partition maintenance forgets "
        "older ones): while it is, that post is never stored again. Keep it longer than a source's replay window "
        "(Jetstream's: 36 hours) plus the longest backlog the stream may hold.",
    )
    partition_maintenance_every_s: float = Field(
        3600.0,
        ge=10,
        le=86400,
        description="How often the partition maintenance of make run and Compose runs (it makes days ahead, drops days past "
        "RETENTION_DAYS); elsewhere run python -m services.common.db.partitions from a scheduler.",
    )
    api_statement_timeout_ms: int = Field(
        10_000,
        ge=100,
        le=3_600_000,
        description="Longest an API read may run in PostgreSQL (statement_timeout; a transaction left idle "
        "is closed after twice as long): past it the read is cancelled and answered 503 with Retry-After, "
        "so a stuck query cannot hold a connection of the pool.",
    )
    worker_db_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Longest a worker waits for one PostgreSQL command (asyncpg's command_timeout): a "
        "database that stops answering pauses the worker instead of hanging it.",
    )
    api_max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Largest request body the API reads (413 past it, from Content-Length before reading, "
        "or as a chunked body arrives). 16 MiB holds the largest ingest batch, 1,000 posts at the "
        "10,000-character limit, with room to spare; a bigger batch is split by the client.",
    )
    dead_letters_degraded_at: int = Field(
        100,
        ge=1,
        le=100_000_000,
        description="Dead letters at which /api/health says degraded: posts set aside are kept until "
        "someone redrives or deletes them, and this many want a look.",
    )
    stream_max_backlog: int = Field(
        100_000,
        ge=100,
        le=100_000_000,
        description="Entries on the stream not yet processed at which producers wait (the ingester) or "
        "answer 429 (POST /api/ingest), and say so.",
    )
    ingest_rate: float = Field(
        20.0,
        ge=0,
        le=100_000,
        description="Posts a second the ingester sends (0: as fast as the backlog allows).",
    )
    ingest_jitter: float = Field(
        0.3, ge=0, lt=1, description="Each gap between two posts varies by up to this fraction (0 to 1)."
    )
    ingest_scenario: Scenario = Field(
        "steady",
        description="The synthetic feed: steady (the everyday mix) or burst (a negative burst on one topic).",
    )
    ingest_burst_topic: SyntheticTopic = Field("airline", description="The topic of the burst scenario.")
    ingest_seed: int = Field(
        42, description="Seed of the synthetic feed: the same seed gives the same posts."
    )
    ingest_sources: Annotated[list[IngestSource], NoDecode] = Field(
        ["synthetic"],
        description="Comma-separated sources make run and Compose start: synthetic, bluesky, mastodon, "
        "hackernews, rss (docs/sources.md). The default invents posts, since a new machine may have no network.",
    )
    ingest_languages: Annotated[list[str], NoDecode] = Field(
        [],
        description="Comma-separated languages (BCP 47 primary subtags) the live sources send for analysis: "
        "a post in another is skipped and counted per language; und (undetermined) always goes. Empty: "
        "those the served model's manifest names (the bundled model: en).",
    )
    ingest_metrics_port: int = Field(
        9200,
        ge=0,
        le=65_535,
        description="Port of a live source's /metrics (Prometheus) on 127.0.0.1 (0: none); make run gives "
        "each source this port, the next, and so on.",
    )
    bluesky_jetstream_urls: Annotated[list[str], NoDecode] = Field(
        [
            "wss://jetstream1.us-east.bsky.network/subscribe",
            "wss://jetstream2.us-east.bsky.network/subscribe",
            "wss://jetstream1.us-west.bsky.network/subscribe",
            "wss://jetstream2.us-west.bsky.network/subscribe",
        ],
        description="Comma-separated Jetstream /subscribe endpoints the bluesky source reads, the next one "
        "after a failure (a cursor works on any of them).",
    )
    bluesky_rewind_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Seconds the bluesky source rewinds its cursor on reconnect, so that nothing between "
        "two connections is missed (the worker drops what comes twice).",
    )
    mastodon_instances: Annotated[list[str], NoDecode] = Field(
        [],
        description="Comma-separated Mastodon instances the mastodon source reads (https://mastodon.social).",
    )
    mastodon_tags: Annotated[list[str], NoDecode] = Field(
        [],
        description="Comma-separated hashtags the mastodon source reads on each instance; empty: the "
        "instances' federated public timelines.",
    )
    mastodon_poll_s: float = Field(
        30.0, ge=5, le=3600, description="Seconds between two rounds of the mastodon source."
    )
    mastodon_token: SecretStr = Field(
        SecretStr(""),
        description="A user access token (scope read:statuses) on the first of MASTODON_INSTANCES: with it, "
        "that instance's timelines stream (its deletes honoured) instead of being polled. Never logged.",
    )
    mastodon_delete_days: int = Field(
        7,
        ge=1,
        le=90,
        description="Days the mastodon source remembers which uri a streamed status id is, to honour its "
        "delete (about 100 bytes of Redis a status).",
    )
    hackernews_api_url: str = Field(
        "https://hacker-news.firebaseio.com/v0",
        pattern=r"^https?://\S+$",
        description="The Hacker News Firebase API the hackernews source reads (maxitem.json, item/<id>.json).",
    )
    hackernews_poll_s: float = Field(
        10.0, ge=1, le=3600, description="Seconds between two rounds of the hackernews source."
    )
    hackernews_recheck_s: float = Field(
        3600.0,
        ge=0,
        le=7 * 86_400,
        description="Seconds after which the hackernews source asks for each item it sent once more, and "
        "deletes it here if it was deleted or killed there (Hacker News signals no deletes).",
    )
    rss_feeds: Annotated[list[str], NoDecode] = Field(
        [],
        description="Comma-separated RSS or Atom feed URLs the rss source polls (http or https).",
    )
    rss_poll_s: float = Field(
        300.0, ge=10, le=86_400, description="Seconds between two polls of each feed by the rss source."
    )
    rss_seen_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days the rss source remembers the entries it sent, so that one still in its feed is "
        "not sent again.",
    )
    worker_batch_size: int = Field(
        64,
        ge=1,
        le=1024,
        description="Posts a worker reads, classifies and writes at once; the larger the batch, the better "
        "its texts group by length.",
    )
    worker_block_ms: int = Field(
        500, ge=1, le=60_000, description="How long one read waits for posts before it returns what it has."
    )
    pipeline_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Niceness make run gives Triton and the workers: when the CPU is short, the API and the "
        "dashboard answer first and the analysis catches up (0: all alike).",
    )
    worker_linger_ms: int = Field(
        100,
        ge=0,
        le=10_000,
        description="How long a read that found fewer than WORKER_BATCH_SIZE posts waits to top its batch up "
        "(0: not at all): fuller batches from a slow feed, for at most this much more delay.",
    )
    worker_concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="Batches one worker keeps in flight, so that reading, inference and writing overlap.",
    )
    worker_max_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Failures of a post on its own account before it is dead-lettered.",
    )
    worker_systemic_failures: int = Field(
        5,
        ge=2,
        le=1000,
        description="Distinct posts failing in a row, for a reason that is not theirs, after which the "
        "worker calls the failure systemic: it pauses, with the error on /health, instead of counting the "
        "failures against the posts.",
    )
    worker_retry_max_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Longest wait between two tries while a dependency is down or a failure is systemic "
        "(from 0.1 s, doubling): how soon after it comes back the worker notices.",
    )
    worker_claim_idle_s: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="A post pending this long with another consumer (a dead worker) is taken over.",
    )
    worker_consumer: str = Field(
        "",
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]*$",
        description="The worker's consumer name in the group; empty: host name and process id. A worker "
        "restarted under the same name first finishes what it left pending.",
    )
    worker_metrics_port: int = Field(
        9100,
        ge=0,
        le=65_535,
        description="Port of the worker's /metrics (Prometheus) and /health (0: none); make run gives its "
        "workers this port, the next, and so on.",
    )
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="Address /metrics and /health bind to (0.0.0.0: every interface, for a scraper on the "
        "network).",
    )
    llm_provider: Literal["none", "groq", "openai", "ollama", "custom"] = Field(
        "none",
        description="The external LLM the worker turns to when Triton is down: groq, openai, ollama (a local "
        "server), custom (any OpenAI-compatible API: set LLM_BASE_URL and LLM_MODEL), or none (the worker "
        "waits for Triton).",
    )
    llm_base_url: str = Field(
        "",
        description="The chat-completions API's base URL; empty: the provider's own "
        "(https://api.groq.com/openai/v1, https://api.openai.com/v1, http://127.0.0.1:11434/v1).",
    )
    llm_model: str = Field(
        "",
        description="The provider's model; empty: the provider's default (llama-3.1-8b-instant for groq, "
        "gpt-4o-mini for openai, llama3.2 for ollama).",
    )
    llm_api_key: SecretStr = Field(
        SecretStr(""),
        description="The provider's API key (groq and openai need one). Never logged or shown; a placeholder "
        "is refused.",
    )
    llm_timeout_s: float = Field(30.0, gt=0, le=600, description="Deadline of one provider request.")
    llm_max_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a provider request on 429 (after its Retry-After), 5xx, timeouts and dropped "
        "connections, with exponential backoff and jitter.",
    )
    llm_batch_size: int = Field(16, ge=1, le=256, description="Posts per provider request.")
    llm_concurrency: int = Field(2, ge=1, le=64, description="Provider requests in flight per worker.")
    llm_rate_per_min: int = Field(
        30,
        ge=1,
        le=1_000_000,
        description="Provider requests a minute, all workers together (counted in Redis); past it, requests "
        "wait for the next minute.",
    )
    triton_breaker_failures: int = Field(
        3,
        ge=1,
        le=100,
        description="Failed Triton calls in a row after which the worker classifies through the provider.",
    )
    triton_probe_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="While the provider classifies, how often one batch tries Triton again; its success "
        "switches back.",
    )
    llm_review_below: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Posts whose sentiment confidence is under this get the provider's second opinion, which "
        "becomes their analysis (0: off).",
    )
    llm_review_per_min: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="Provider requests a minute (all workers) for second opinions; past it, the model's "
        "labels stand.",
    )
    backend_host: str = Field(
        "127.0.0.1", description="Address the API binds to (0.0.0.0: every interface, as in a container)."
    )
    backend_port: int = Field(
        8000, ge=1, le=65_535, description="Port of the API (Compose publishes it on the host)."
    )
    dashboard_port: int = Field(
        3000,
        ge=1,
        le=65_535,
        description="Port of the dashboard (make run serves it there; Compose publishes it on the host).",
    )
    api_key: SecretStr = Field(
        SecretStr(""),
        description="When set, every read endpoint but /api/health and /metrics, and the WebSocket, need it: "
        "in the X-API-Key header (never in a URL); the dashboard asks for it once per browser session. "
        "Empty: open, for a local run. A placeholder is refused.",
    )
    ingest_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token of POST /api/ingest; empty: the endpoint answers 403 (off). A placeholder "
        "is refused.",
    )
    admin_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token of the topic writes (POST, PATCH, DELETE /api/topics); empty: they answer 403 "
        "(off) and the topics are read-only. A placeholder is refused.",
    )
    max_topics: int = Field(200, ge=1, le=10_000, description="The most topics there may be at once.")
    public_host: str = Field(
        "",
        pattern=r"^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])?(:\d{1,5})?$",
        description="The host name (and :port, if not the default) people reach the dashboard at, behind TLS "
        "(docs/deployment.md): adds https://PUBLIC_HOST to the default CORS_ORIGINS and PUBLIC_HOST to the "
        "default ALLOWED_HOSTS. Empty: a local install.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        ["http://localhost:3000", "http://127.0.0.1:3000"],
        description="Comma-separated origins whose pages may call the API from a browser and open the "
        "WebSocket (the dashboard's); others get no CORS headers, and their WebSocket is refused (403). "
        "Default: the dashboard on localhost and 127.0.0.1, and https://PUBLIC_HOST when that is set.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        ["localhost", "127.0.0.1", "[::1]", "backend"],
        description="Comma-separated host names the API answers to (the Host header, port aside; "
        "*.example.org for any subdomain, * for any): another is refused (400), so a page that rebinds "
        "its own name to 127.0.0.1 reads nothing. /metrics and the health endpoints answer any host "
        "(probes, scrapers). Default: the local names, backend (Compose's), and PUBLIC_HOST when set.",
    )
    cache_ttl_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Seconds an aggregation answer (and /api/health's counts) is kept in Redis, keyed by path "
        "and query (0: no cache).",
    )
    feed_cache_ttl_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds a page of /api/posts is kept in Redis, keyed by query (0: no cache): viewers "
        "asking for the same page within it share one query.",
    )
    ws_metrics_interval_s: float = Field(
        30.0, gt=0, le=3600, description="How often the WebSocket sends metrics_update to its clients."
    )
    ws_subscription_check_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="How long the live hub's Redis subscription may stay silent before the hub pings it; "
        "no answer within as long again and it resubscribes, and clients are told to reload.",
    )
    ws_max_clients: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="WebSocket clients one API process serves at once; past it, a new one is refused at the "
        "handshake (503). Each costs a queue of up to WS_CLIENT_QUEUE events and a share of every relay.",
    )
    ws_client_queue: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Events waiting for one WebSocket client beyond which that slow client is dropped (close "
        "code 1013).",
    )
    alert_check_interval_seconds: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="How often the alert rule is evaluated (by one backend replica at a time).",
    )
    alert_window_minutes: float = Field(
        5.0, gt=0, le=10_080, description="The alert rule counts the posts created this many minutes back."
    )
    alert_negative_ratio_threshold: float = Field(
        2.0,
        gt=0,
        description="An alert when negative/positive in the window is strictly above this (no positives: the "
        "ratio is the negative count).",
    )
    alert_min_posts: int = Field(10, ge=1, description="Posts the window needs before the rule applies.")
    alert_cooldown_minutes: float = Field(
        15.0,
        ge=0,
        le=10_080,
        description="After an alert, none of the same type for this long (all replicas together).",
    )
    alert_webhook_url: SecretStr = Field(
        SecretStr(""),
        description="POST each alert there as JSON (the alert event's data); empty: no webhook. A secret "
        "(a chat webhook's URL is its password): never logged or shown.",
    )
    alert_webhook_timeout_s: float = Field(5.0, gt=0, le=120, description="Deadline of one webhook call.")
    alert_webhook_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a webhook call on a connection error, timeout, 429 or 5xx (exponential "
        "backoff).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every service."
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername != "postgresql+asyncpg":
            raise ValueError(f"must start with postgresql+asyncpg://, not {url.drivername}://")
        if not url.database:
            raise ValueError("names no database")
        if url.password is not None and is_placeholder(url.password):
            raise ValueError("has a placeholder password: set a real one")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_placeholder(cls, value: object) -> object:
        # Every secret, those to come included: a SecretStr field is a secret. Empty stays allowed (off);
        # the message never repeats the value.
        if isinstance(value, SecretStr) and is_placeholder(value.get_secret_value()):
            raise ValueError("is a placeholder: set a real one, or leave it empty (off)")
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and not re.fullmatch(r"https?://\S+", value.get_secret_value()):
            raise ValueError("must be an http:// or https:// URL")  # the value is not repeated: a secret
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        password = urlsplit(value).password
        if password is not None and is_placeholder(unquote(password)):
            raise ValueError("has a placeholder password: set a real one")
        return value

    @model_validator(mode="after")
    def _provider(self) -> "Settings":
        # Errors between variables: the message names the one to set, as field errors do.
        if self.llm_provider == "custom" and not (self.llm_base_url and self.llm_model):
            raise ValueError("LLM_BASE_URL: LLM_PROVIDER custom needs LLM_BASE_URL and LLM_MODEL")
        if self.llm_provider in ("groq", "openai") and not self.llm_api_key.get_secret_value():
            raise ValueError(f"LLM_API_KEY: LLM_PROVIDER {self.llm_provider} needs an API key")
        if self.llm_review_below > 0 and self.llm_provider == "none":
            raise ValueError("LLM_REVIEW_BELOW: second opinions need an LLM_PROVIDER")
        return self

    @field_validator(
        "ingest_sources", "ingest_languages", "bluesky_jetstream_urls", "rss_feeds", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("ingest_languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        tags = [primary_subtag(tag) for tag in value]
        wrong = [tag for tag, primary in zip(value, tags, strict=True) if primary is None]
        if wrong:
            raise ValueError(f"must be BCP 47 language tags such as en,de (not {', '.join(wrong)})")
        return [tag for tag in tags if tag is not None]

    @field_validator("bluesky_jetstream_urls")
    @classmethod
    def _websockets(cls, value: list[str]) -> list[str]:
        wrong = [url for url in value if not re.match(r"^wss?://[^/?#\s]+(/\S*)?$", url)]
        if wrong or not value:
            raise ValueError(f"must be ws:// or wss:// URLs (not {', '.join(wrong) or 'none'})")
        return value

    @field_validator("rss_feeds", "mastodon_instances")
    @classmethod
    def _feeds(cls, value: list[str]) -> list[str]:
        wrong = [url for url in value if not re.match(r"^https?://[^/?#\s]+\S*$", url)]
        if wrong:
            raise ValueError(f"must be http:// or https:// URLs (not {', '.join(wrong)})")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip().lower() for host in value.split(",") if host.strip()]
        return value

    @model_validator(mode="after")
    def _retention(self) -> "Settings":
        if self.rollup_retention_days < self.retention_days:
            raise ValueError(
                f"ROLLUP_RETENTION_DAYS: {self.rollup_retention_days} is less than RETENTION_DAYS "
                f"({self.retention_days}): the rollups must outlive the posts they count"
            )
        return self

    @model_validator(mode="after")
    def _public_host(self) -> "Settings":
        # One public name sets both lists, unless a list is given outright.
        if self.public_host:
            host = self.public_host.lower()
            if "cors_origins" not in self.model_fields_set:
                self.cors_origins = [*self.cors_origins, f"https://{host}"]
            if "allowed_hosts" not in self.model_fields_set:
                self.allowed_hosts = [*self.allowed_hosts, without_port(host)]
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def load_settings() -> Settings:
    """Read the environment; a bad value raises SettingsError naming each offending variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(
                filter(
                    None,
                    (".".join(str(p) for p in err["loc"]).upper(), err["msg"].removeprefix("Value error, ")),
                )
            )
            for err in exc.errors()
        )
        raise SettingsError(f"invalid environment: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
