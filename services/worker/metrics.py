"""The worker's Prometheus metrics (served with /health by services/common/metrics_server.py)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.processed = Counter(
            "worker_posts_processed", "Posts stored (or found stored) and acknowledged", registry=r
        )
        self.failed = Counter(
            "worker_posts_failed", "Lone attempts at a post that failed (an outage aside)", registry=r
        )
        self.dead_lettered = Counter(
            "worker_posts_dead_lettered", "Posts dead-lettered (kept in PostgreSQL)", registry=r
        )
        self.deletes = Counter(
            "worker_deletes", "Deletes from the posts' sources handled (tombstones kept)", registry=r
        )
        self.posts_deleted = Counter(
            "worker_posts_deleted", "Stored posts deleted because their source deleted them", registry=r
        )
        self.tombstoned = Counter(
            "worker_posts_tombstoned", "Posts not stored because their source had deleted them", registry=r
        )
        self.backfilled = Counter(
            "worker_topic_tags_backfilled", "Topic tags of stored posts added by topic backfills", registry=r
        )
        self.batch_seconds = Histogram(
            "worker_batch_seconds", "From read to acknowledgement, per batch", registry=r
        )
        self.lag = Gauge(
            "worker_consumer_lag", "Entries in the stream not yet delivered to the group", registry=r
        )
        self.pending = Gauge(
            "worker_pending", "Entries delivered to the group and not yet acknowledged", registry=r
        )
        self.paused = Gauge(
            "worker_paused", "1 while a dependency is down and reading has stopped", registry=r
        )
