"""The label sets every model, table, event and API uses."""

from enum import StrEnum


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Emotion(StrEnum):
    ANGER = "anger"
    DISGUST = "disgust"
    FEAR = "fear"
    JOY = "joy"
    NEUTRAL = "neutral"
    SADNESS = "sadness"
    SURPRISE = "surprise"


# Labels that checkpoints use for something we already have a name for (mapped at export: docs/models.md).
EMOTION_ALIASES: dict[str, Emotion] = {"optimism": Emotion.JOY}
SENTIMENT_ALIASES: dict[str, Sentiment] = {}


def to_sentiment(name: str) -> Sentiment:
    """Map a checkpoint's label name onto ours; ValueError for a name we cannot place."""
    key = name.strip().lower()
    if key in SENTIMENT_ALIASES:
        return SENTIMENT_ALIASES[key]
    return Sentiment(key)


def to_emotion(name: str) -> Emotion:
    """Map a checkpoint's label name onto ours; ValueError for a name we cannot place."""
    key = name.strip().lower()
    if key in EMOTION_ALIASES:
        return EMOTION_ALIASES[key]
    return Emotion(key)
