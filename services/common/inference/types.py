"""What every classifier returns, the errors that mean something to its caller, and the contract itself."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.common.labels import Emotion, Sentiment


class InferenceUnavailable(RuntimeError):
    """Triton did not answer (down, timed out, not ready): retry or fall back; never the post's fault."""


class ModelMismatch(RuntimeError):
    """The local tokenizer does not belong to the served model (or the model is not the one we expect)."""


@dataclass(frozen=True)
class Prediction:
    """One text's labels, and the model that gave them (what goes into ``sentiment_analysis.model_name``)."""

    sentiment: Sentiment
    sentiment_confidence: float
    sentiment_scores: dict[Sentiment, float]
    emotion: Emotion
    emotion_confidence: float
    emotion_scores: dict[Emotion, float]
    model_name: str


@dataclass(frozen=True)
class Classification:
    """A batch's predictions, in the order of its texts, and the model that answered for the batch."""

    predictions: list[Prediction]
    model_name: str  # e.g. "minilm-bundle@2"
    model_version: str  # Triton's version folder, or the provider's model


class Classifier(Protocol):
    """A backend that labels texts: Triton, an LLM provider, or a composite of them."""

    @property
    def model_name(self) -> str:
        """The model that classifies now."""
        ...

    async def classify(self, texts: Sequence[str]) -> Classification:
        """Every text's prediction; raises an outage (e.g. ``InferenceUnavailable``) when it cannot answer."""
        ...

    async def healthy(self) -> bool:
        """Whether it would answer now."""
        ...

    async def close(self) -> None: ...
