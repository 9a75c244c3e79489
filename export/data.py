"""Labelled JSONL (``{"text", "label"}`` a line), with every label mapped onto the platform's sets."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.common.inference.spec import EMOTION_ORDER, SENTIMENT_ORDER
from services.common.labels import to_emotion, to_sentiment

Task = Literal["sentiment", "emotion"]

# The labelled files training reads from its data folder (``--data``), by role: (file, task).
FILES: dict[str, tuple[str, Task]] = {
    "sentiment_train": ("goemotions_sentiment_train.jsonl", "sentiment"),
    "sentiment_dev": ("goemotions_sentiment_dev.jsonl", "sentiment"),
    "tweets": ("tweeteval_sentiment_dev.jsonl", "sentiment"),
    "emotion_train": ("goemotions_ekman_train.jsonl", "emotion"),
    "emotion_dev": ("goemotions_ekman_dev.jsonl", "emotion"),
    "tweet_emotion_train": ("tweeteval_emotion_train.jsonl", "emotion"),
    "tweet_emotion_dev": ("tweeteval_emotion_dev.jsonl", "emotion"),
}
# The dev files every model is scored on, by the name its figures go under (the tweets are k-folded).
DEV = {
    "goemotions_sentiment_dev": "sentiment_dev",
    "goemotions_ekman_dev": "emotion_dev",
    "tweeteval_emotion_dev": "tweet_emotion_dev",
}


@dataclass(frozen=True)
class Examples:
    texts: list[str]
    labels: list[int]  # index into the task's label order

    def __len__(self) -> int:
        return len(self.texts)


def label_index(task: Task) -> Callable[[str], int]:
    if task == "sentiment":
        return lambda name: SENTIMENT_ORDER.index(to_sentiment(name))
    return lambda name: EMOTION_ORDER.index(to_emotion(name))


def read_jsonl(path: Path, task: Task) -> Examples:
    """Rows of one file; a row without text or with a label outside the task is an error naming the line."""
    index = label_index(task)
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as rows:
        for number, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                texts.append(str(row["text"]))
                labels.append(index(row["label"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    return Examples(texts, labels)
