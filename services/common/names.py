"""Every Redis stream, group, channel and key name, defined once (docs/architecture.md).

``RedisNames`` puts ``REDIS_KEY_PREFIX`` before each one, so tests and several deployments can share one
Redis without touching each other's keys.
"""

from dataclasses import dataclass

STREAM = "social_posts_stream"
GROUP = "sentiment_workers"
CHANNEL = "sentiment_updates"
DEAD_LETTER_STREAM = "social_posts_dead_letter"
FAILURES = "social_posts_failures"
LLM_REQUESTS = "llm_requests"
LLM_REVIEWS = "llm_reviews"
CACHE = "sentiment_cache"
LIVE_TICKETS = "live_tickets"
SOURCE_STATUS = "source_status"
INGEST_CURSORS = "ingest_cursors"
MASTODON_IDS = "mastodon_ids"


@dataclass(frozen=True)
class RedisNames:
    """The names as one deployment sees them: each is ``prefix + name``."""

    prefix: str = ""

    @property
    def stream(self) -> str:
        return self.prefix + STREAM

    @property
    def group(self) -> str:
        # A group lives inside its stream, so it needs no prefix of its own.
        return GROUP

    @property
    def channel(self) -> str:
        return self.prefix + CHANNEL

    @property
    def dead_letter_stream(self) -> str:
        return self.prefix + DEAD_LETTER_STREAM

    @property
    def failures(self) -> str:
        """Hash: stream entry id -> how many times that post failed on its own account."""
        return self.prefix + FAILURES

    @property
    def llm_requests(self) -> str:
        """Counters (one key a minute, ``:<minute>`` appended) of requests to the LLM provider."""
        return self.prefix + LLM_REQUESTS

    @property
    def llm_reviews(self) -> str:
        """Counters (one key a minute) of second-opinion requests to the LLM provider."""
        return self.prefix + LLM_REVIEWS

    @property
    def source_status(self) -> str:
        """Hash: source label -> its SourceStatus as JSON (services/common/sources.py)."""
        return self.prefix + SOURCE_STATUS

    @property
    def ingest_cursors(self) -> str:
        """Hash: source label -> where it resumes reading, set in the same MULTI as the XADD it covers."""
        return self.prefix + INGEST_CURSORS

    def mastodon_ids(self, day: str) -> str:
        """Hash with a TTL, one a day (``:<yyyy-mm-dd>`` appended): ``<instance> <status id>`` -> the uri
        of a status the mastodon source streamed, so that its delete (which names only the id) is honoured."""
        return f"{self.prefix}{MASTODON_IDS}:{day}"

    def live_ticket(self, ticket: str) -> str:
        """String with a TTL: a WebSocket ticket, taken (GETDEL) by the replica the socket reaches."""
        return f"{self.prefix}{LIVE_TICKETS}:{ticket}"

    def cache_key(self, *parts: str) -> str:
        """A cache entry's key: the cache namespace, then the parts joined by ':'."""
        return ":".join((self.prefix + CACHE, *parts))
