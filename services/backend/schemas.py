"""The REST API's response shapes. Keep the field names: the dashboard's types are generated from them
(services/backend/contract.py)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.backend.aggregation import Period
from services.common.db.models import TOPIC_NAME_MAX_CHARS, TOPIC_QUERY_MAX_CHARS
from services.common.events import AlertData
from services.common.labels import Emotion, Sentiment
from services.common.messages import SOURCE_MAX_CHARS
from services.common.redis import Persistence
from services.common.sources import SourceStatus
from services.common.timestamps import UtcDatetime

ServiceState = Literal["connected", "disconnected"]


class _Closed(BaseModel):
    """A shape whose fields are named after the labels (labels.py): a label added there and not here fails
    validation instead of dropping out of the answer."""

    model_config = ConfigDict(extra="forbid")


class Services(BaseModel):
    database: ServiceState
    redis: ServiceState
    triton: ServiceState


class Stats(BaseModel):
    total_posts: int
    total_analyses: int
    recent_posts_1h: int


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: UtcDatetime
    services: Services
    stats: Stats | None
    redis_persistence: Persistence | None = Field(
        description="How Redis keeps what it holds (None while it does not answer)"
    )
    dead_letters: int | None = Field(
        description="Posts set aside, kept until redriven or deleted (None while PostgreSQL does not answer)"
    )
    sources: list[SourceStatus] = Field(
        default_factory=list, description="What each live source last reported (none: no live source ran)"
    )
    warnings: list[str] = Field(description="What an operator should know and act on, in plain words")


class Analysis(BaseModel):
    label: Sentiment
    confidence: float
    emotion: Emotion
    model_name: str


class Post(BaseModel):
    post_id: str
    source: str
    content: str
    author: str
    created_at: UtcDatetime
    sentiment: Analysis
    lang: str | None = Field(
        default=None, description='BCP 47 primary subtag, "und" when it could not be told; null: not recorded'
    )
    url: str | None = Field(default=None, description="the post at its source")
    headline: str | None = Field(
        default=None, description="with q: the content with each matched word in <b></b>, the rest escaped"
    )


class PostFilters(BaseModel):
    """The filters asked for, None where not given (a label is any text: an unknown one matches nothing)."""

    source: str | None
    lang: str | None
    sentiment: str | None
    emotion: str | None
    start_date: UtcDatetime | None
    end_date: UtcDatetime | None
    before: str | None
    topic: list[int] = []
    q: str | None = None


class Posts(BaseModel):
    posts: list[Post]
    total: int = Field(
        description="Posts matching the filters (exact, counted from the rollup); with q or several topics, "
        "exact up to 10,000"
    )
    total_is_lower_bound: bool = Field(
        False, description="with q or several topics: more than 10,000 match (total is 10,000)"
    )
    limit: int
    offset: int
    filters: PostFilters


class Alerts(BaseModel):
    alerts: list[AlertData]
    total: int
    limit: int
    offset: int


class Bucket(_Closed):
    timestamp: UtcDatetime
    positive_count: int
    negative_count: int
    neutral_count: int
    total_count: int
    positive_percentage: float
    negative_percentage: float
    neutral_percentage: float
    average_confidence: float


class Summary(_Closed):
    total_posts: int
    positive_total: int
    negative_total: int
    neutral_total: int


class TopicSeries(BaseModel):
    """One topic's own answer, when several are compared."""

    topic: int
    data: list[Bucket]
    summary: Summary


class Aggregate(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[Bucket] = Field(
        description="With several topics: their matches summed, as share of voice sums them"
    )
    summary: Summary
    by_topic: list[TopicSeries] = Field(
        [], description="With several topics: each one's own, in the order asked"
    )


class SentimentTotals(_Closed):
    negative: int
    neutral: int
    positive: int


class SentimentShares(_Closed):
    """Percent, to 2 places, summing to 100 (all 0 when there is nothing)."""

    negative: float
    neutral: float
    positive: float


class TopicDistribution(BaseModel):
    """One topic's own distribution, when several are compared."""

    topic: int
    distribution: SentimentTotals
    total: int
    percentages: SentimentShares
    top_emotions: dict[Emotion, int]


class Distribution(BaseModel):
    timeframe_hours: int
    source: str | None
    topic: list[int] = Field([], description="The topics asked for")
    distribution: SentimentTotals = Field(description="With several topics: their matches summed")
    total: int
    percentages: SentimentShares
    top_emotions: dict[Emotion, int] = Field(description="The emotions seen, most frequent first")
    by_topic: list[TopicDistribution] = Field([], description="With several topics: each one's own, in order")


class EmotionCounts(_Closed):
    anger: int
    disgust: int
    fear: int
    joy: int
    neutral: int
    sadness: int
    surprise: int


class EmotionBucket(BaseModel):
    timestamp: UtcDatetime
    counts: EmotionCounts
    total: int


class TopicEmotions(BaseModel):
    """One topic's own emotions, when several are compared."""

    topic: int
    data: list[EmotionBucket]


class Emotions(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[EmotionBucket] = Field(description="With several topics: their matches summed")
    by_topic: list[TopicEmotions] = Field([], description="With several topics: each one's own, in order")


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


class LiveTicket(BaseModel):
    ticket: str = Field(description="Pass as ?ticket= to /ws/sentiment, once, within expires_in_s")
    expires_in_s: int


class IngestAnswer(BaseModel):
    accepted: int
    rejected: int
    results: list[IngestResult]


BCP47 = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"  # a language tag; its primary subtag is what is kept


class TopicFields(BaseModel):
    """What a topic is made of; PATCH sends only what changes."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=TOPIC_NAME_MAX_CHARS, pattern=r"^\S(.*\S)?$")
    query: str | None = Field(
        None,
        min_length=1,
        max_length=TOPIC_QUERY_MAX_CHARS,
        description='websearch_to_tsquery syntax: words, "quoted phrases", or, -word; #hashtags, @handles '
        "and domains as written",
    )
    sources: (
        list[Annotated[str, Field(min_length=1, max_length=SOURCE_MAX_CHARS, pattern=r"^\S+$")]] | None
    ) = Field(None, max_length=50, description="only posts of these sources; null or absent: every source")
    languages: list[Annotated[str, Field(max_length=35, pattern=BCP47)]] | None = Field(
        None,
        max_length=50,
        description="only posts in these languages (BCP 47: en, pt-BR, und; kept as their primary subtag); "
        "null: every language",
    )


class NewTopic(TopicFields):
    name: str = Field(min_length=1, max_length=TOPIC_NAME_MAX_CHARS, pattern=r"^\S(.*\S)?$")
    query: str = Field(min_length=1, max_length=TOPIC_QUERY_MAX_CHARS)


class Backfill(BaseModel):
    """The topic's tagging of the posts stored before it was made or last changed."""

    state: Literal["done", "running"]
    through: UtcDatetime | None = Field(
        None, description="running: the posts created from here on are tagged; null: not started"
    )
    progress: float = Field(description="the share of the stored posts' time span tagged, 0 to 1")


class TopicOut(BaseModel):
    id: int
    name: str
    query: str
    sources: list[str] | None
    languages: list[str] | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    revision: int = Field(description="raised by every change of what the topic matches")
    backfill: Backfill


class Topics(BaseModel):
    topics: list[TopicOut]
    max_topics: int


class TopicShare(BaseModel):
    id: int
    name: str
    posts: int = Field(description="its posts in the window")
    share: float = Field(description="its percent of all topics' posts in the window (the shares sum to 100)")
    sentiment: SentimentTotals
    net_sentiment: float | None = Field(description="(positive - negative) / posts; null without posts")
    previous_posts: int = Field(description="its posts in the window of the same length before")
    posts_change: int
    posts_change_percent: float | None = Field(description="null when the window before had none")
    net_sentiment_change: float | None = Field(description="null when either window has no posts")


class ShareOfVoice(BaseModel):
    hours: int
    start_date: UtcDatetime
    end_date: UtcDatetime
    total: int = Field(description="the sum of every topic's posts (a post in two topics counts in both)")
    topics: list[TopicShare] = Field(description="every topic, the most posts first")


class _Voice(BaseModel):
    posts: int = Field(description="its posts in the topic in the window")
    sentiment: SentimentTotals
    net_sentiment: float | None = Field(description="(positive - negative) / posts")


class AuthorCount(_Voice):
    author: str


class HashtagCount(_Voice):
    hashtag: str = Field(description="lowercased, with its #")


class _TopicWindow(BaseModel):
    topic: int
    hours: int
    start_date: UtcDatetime
    end_date: UtcDatetime


class TopicAuthors(_TopicWindow):
    authors: list[AuthorCount] = Field(description="the most posts first (ties by name)")


class TopicHashtags(_TopicWindow):
    hashtags: list[HashtagCount] = Field(description="the most posts first (ties by hashtag)")
