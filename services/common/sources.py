"""What a live source reports of itself (docs/sources.md): the ingester writes one ``SourceStatus`` per source
into the ``source_status`` hash every few seconds, and /api/health shows each, with a warning for a source
that stopped reporting, waits, or missed posts."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.timestamps import UtcDatetime, utcnow

SourceState = Literal["connecting", "live", "reconnecting", "waiting_for_backlog", "stopped"]
REPORT_EVERY_S = 5.0
STALE_AFTER = timedelta(seconds=60)  # a source that has not reported for this long is not running


def metrics_ports(sources: Sequence[str], first: int) -> list[int]:
    """Each source's /metrics port: the live ones take ``first`` (INGEST_METRICS_PORT), the next, and so on;
    the synthetic feed has none, nor any source when ``first`` is 0."""
    ports: list[int] = []
    for source in sources:
        ports.append(first + sum(1 for port in ports if port) if first and source != "synthetic" else 0)
    return ports


class SourceStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str = Field(description="The source's label (bluesky, mastodon, hackernews, rss)")
    state: SourceState
    detail: str = Field("", description="What it waits for, or the last failure, in plain words")
    endpoint: str = Field("", description="The server it reads from now")
    updated_at: UtcDatetime
    events: int = Field(0, description="Events received from the source since the ingester started")
    posts: int = Field(0, description="Posts sent onto the stream")
    deletes: int = Field(0, description="Deletes sent onto the stream")
    skipped: dict[str, int] = Field(default_factory=dict, description="Events not sent, by reason")
    reconnects: int = 0
    behind_s: float | None = Field(None, description="How far behind live the last event read is, in seconds")
    missed_s: float = Field(
        0.0, description="Seconds of posts the source could no longer replay (a cursor past its window)"
    )

    def warning(self) -> str | None:
        """What an operator should know of this source, or None."""
        if self.state != "stopped" and utcnow() - self.updated_at > STALE_AFTER:
            return f"source {self.source}: no report since {self.updated_at:%H:%M:%S} UTC: is it running?"
        if self.missed_s:
            return (
                f"source {self.source}: {self.missed_s:.0f} s of posts were missed: its cursor was older "
                "than what the server keeps"
            )
        if self.state in ("reconnecting", "waiting_for_backlog"):
            return f"source {self.source}: {self.state.replace('_', ' ')}: {self.detail}"
        return None
