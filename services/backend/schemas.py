"""The REST API's response shapes (the contract of issue 7: keep the field names)."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from services.backend.aggregation import Period
from services.common.events import AlertData
from services.common.timestamps import UtcDatetime


class Services(BaseModel):
    database: Literal["connected", "disconnected"]
    redis: Literal["connected", "disconnected"]
    triton: Literal["connected", "disconnected"]


class Stats(BaseModel):
    total_posts: int
    total_analyses: int
    recent_posts_1h: int


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: UtcDatetime
    services: Services
    stats: Stats | None


class Analysis(BaseModel):
    label: str
    confidence: float
    emotion: str
    model_name: str


class Post(BaseModel):
    post_id: str
    source: str
    content: str
    author: str
    created_at: UtcDatetime
    sentiment: Analysis


class Posts(BaseModel):
    posts: list[Post]
    total: int = Field(description="Posts matching the filters (exact, counted from the rollup)")
    limit: int
    offset: int
    filters: dict[str, Any]


class Alerts(BaseModel):
    alerts: list[AlertData]
    total: int
    limit: int
    offset: int


class Bucket(BaseModel):
    timestamp: UtcDatetime
    positive_count: int
    negative_count: int
    neutral_count: int
    total_count: int
    positive_percentage: float
    negative_percentage: float
    neutral_percentage: float
    average_confidence: float


class Aggregate(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[Bucket]
    summary: dict[str, int]


class Distribution(BaseModel):
    timeframe_hours: int
    source: str | None
    distribution: dict[str, int]
    total: int
    percentages: dict[str, float]
    top_emotions: dict[str, int]


class EmotionBucket(BaseModel):
    timestamp: UtcDatetime
    counts: dict[str, int]
    total: int


class Emotions(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[EmotionBucket]


class IngestRequest(BaseModel):
    posts: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=1000,
        description="Up to 1,000 posts in the stream message schema: post_id, source, content, author, "
        "created_at (ISO 8601 with an offset)",
    )


class IngestError(BaseModel):
    field: str
    message: str


class IngestResult(BaseModel):
    index: int
    post_id: str | None
    accepted: bool
    errors: list[IngestError]


class IngestAnswer(BaseModel):
    accepted: int
    rejected: int
    results: list[IngestResult]
