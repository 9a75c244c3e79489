"""The inference client every service uses: tokenize a batch, one gRPC call to Triton, labels back.

``Classifier`` (blocking) and ``AsyncClassifier`` (asyncio) share everything but the call itself. Neither
imports torch: the tokenizer, numpy and tritonclient are enough. At connect time the client reads the
served model's config and refuses a tokenizer whose fingerprint is not the one the model was exported with.
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from numpy.typing import NDArray
from tokenizers import Tokenizer
from tritonclient.utils import InferenceServerException

from services.common.inference.spec import (
    ATTENTION_MASK,
    EMOTION_LOGITS,
    EMOTION_ORDER,
    INPUT_IDS,
    MAX_TOKENS,
    MODEL,
    SENTIMENT_LOGITS,
    SENTIMENT_ORDER,
    TOKENIZER_FILE,
)
from services.common.labels import Emotion, Sentiment

T = TypeVar("T")
REQUEST_SIZE = 8  # texts per request by default (TRITON_REQUEST_SIZE)


class InferenceUnavailable(RuntimeError):
    """Triton did not answer (down, timed out, not ready): retry or fall back; never the post's fault."""


class ModelMismatch(RuntimeError):
    """The local tokenizer does not belong to the served model (or the model is not the one we expect)."""


@dataclass(frozen=True)
class Prediction:
    sentiment: Sentiment
    sentiment_confidence: float
    sentiment_scores: dict[Sentiment, float]
    emotion: Emotion
    emotion_confidence: float
    emotion_scores: dict[Emotion, float]


@dataclass(frozen=True)
class Classification:
    predictions: list[Prediction]
    model_name: str  # e.g. "minilm-bundle@1": what goes into sentiment_analysis.model_name
    model_version: str  # Triton's version folder


def softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def to_predictions(
    sentiment_logits: NDArray[np.float32], emotion_logits: NDArray[np.float32]
) -> list[Prediction]:
    sentiment, emotion = softmax(sentiment_logits), softmax(emotion_logits)
    out = []
    for s, e in zip(sentiment, emotion, strict=True):
        si, ei = int(s.argmax()), int(e.argmax())
        out.append(
            Prediction(
                sentiment=SENTIMENT_ORDER[si],
                sentiment_confidence=float(s[si]),
                sentiment_scores={label: float(p) for label, p in zip(SENTIMENT_ORDER, s, strict=True)},
                emotion=EMOTION_ORDER[ei],
                emotion_confidence=float(e[ei]),
                emotion_scores={label: float(p) for label, p in zip(EMOTION_ORDER, e, strict=True)},
            )
        )
    return out


@dataclass(frozen=True)
class ServedModel:
    """What the server told us about the model at connect time."""

    model_name: str
    version: str
    max_batch_size: int
    tokenizer: Tokenizer


def load_tokenizer(path: Path, expected_sha256: str) -> Tokenizer:
    if not path.is_file():
        raise ModelMismatch(f"no tokenizer at {path}: run `python -m export build` or set MODEL_REPOSITORY")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelMismatch(
            f"tokenizer {path} (sha256 {actual[:12]}…) does not belong to the served model "
            f"(expects {expected_sha256[:12]}…): export and serve the model from the same build"
        )
    return configure(Tokenizer.from_str(data.decode("utf-8")))


def configure(tokenizer: Tokenizer) -> Tokenizer:
    """Truncate at the model's limit and pad each batch to its longest text, with the model's own pad token
    (a tokenizer.json may pad every text to a fixed length, which costs a third of the speed)."""
    tokenizer.no_truncation()
    tokenizer.enable_truncation(MAX_TOKENS)
    padding = tokenizer.padding or {}
    pad_token = padding.get("pad_token") or next(
        (t for t in ("[PAD]", "<pad>") if tokenizer.token_to_id(t) is not None), "[PAD]"
    )
    pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token) or 0)
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
    return tokenizer


def served_model(config: dict[str, Any], metadata: dict[str, Any], repository: Path) -> ServedModel:
    params = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
    if "tokenizer_sha256" not in params or "model_name" not in params:
        raise ModelMismatch(f"the served {MODEL} carries no tokenizer fingerprint: re-export it")
    versions = metadata.get("versions") or ["1"]
    version = str(max(versions, key=int))
    tokenizer = load_tokenizer(repository / MODEL / version / TOKENIZER_FILE, params["tokenizer_sha256"])
    return ServedModel(params["model_name"], version, int(config.get("max_batch_size", 0)) or 1, tokenizer)


def tensors(ids: NDArray[np.int64], mask: NDArray[np.int64]) -> list[Any]:
    out = []
    for name, array in ((INPUT_IDS, ids), (ATTENTION_MASK, mask)):
        tensor = grpcclient.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(np.ascontiguousarray(array))
        out.append(tensor)
    return out


def plan(tokenizer: Tokenizer, texts: Sequence[str], size: int) -> list[tuple[NDArray[np.intp], list[Any]]]:
    """The requests for a batch: its texts sorted by length, ``size`` to a request, each padded only to its
    own longest text, with the positions of the texts it holds. Padding a batch of posts to its longest
    one costs more than half the speed on a CPU; grouped by length, almost nothing."""
    if not texts:
        return []
    batch = tokenizer.encode_batch(list(texts))  # padded to the longest (on the right)
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
    lengths = mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = []
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        width = max(int(lengths[rows].max()), 1)
        out.append((rows, tensors(ids[rows, :width], mask[rows, :width])))
    return out


async def gather_all(*calls: Awaitable[T]) -> list[T]:
    """Every call's result; if any failed, the first failure, raised once all have ended (a plain gather
    would leave the others running on with a connection that the caller is about to close)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def in_order(count: int, parts: Sequence[tuple[NDArray[np.intp], list[Prediction]]]) -> list[Prediction]:
    placed: list[Prediction | None] = [None] * count
    for rows, predictions in parts:
        for row, prediction in zip(rows, predictions, strict=True):
            placed[int(row)] = prediction
    assert all(p is not None for p in placed)
    return placed  # type: ignore[return-value]


OUTPUTS = [grpcclient.InferRequestedOutput(SENTIMENT_LOGITS), grpcclient.InferRequestedOutput(EMOTION_LOGITS)]


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Classifier:
    """Blocking client. ``connect()`` (or the first ``classify``) checks the model and the tokenizer."""

    def __init__(
        self, url: str, repository: Path, *, timeout_s: float = 10.0, request_size: int = REQUEST_SIZE
    ) -> None:
        self.url, self.repository, self.timeout_s = url, repository, timeout_s
        self.request_size = request_size
        self._client = grpcclient.InferenceServerClient(url)
        self._model: ServedModel | None = None

    def connect(self) -> ServedModel:
        try:
            config = self._client.get_model_config(MODEL, as_json=True, client_timeout=self.timeout_s)[
                "config"
            ]
            metadata = self._client.get_model_metadata(MODEL, as_json=True, client_timeout=self.timeout_s)
        except InferenceServerException as exc:
            raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
        self._model = served_model(config, metadata, self.repository)
        return self._model

    def healthy(self) -> bool:
        try:
            return bool(self._client.is_model_ready(MODEL, client_timeout=min(self.timeout_s, 2.0)))
        except InferenceServerException:
            return False

    def classify(self, texts: Sequence[str]) -> Classification:
        model = self._model or self.connect()
        parts = []
        for rows, inputs in plan(model.tokenizer, texts, min(self.request_size, model.max_batch_size)):
            try:
                result = self._client.infer(MODEL, inputs, outputs=OUTPUTS, client_timeout=self.timeout_s)
            except InferenceServerException as exc:
                raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
            parts.append(
                (rows, to_predictions(result.as_numpy(SENTIMENT_LOGITS), result.as_numpy(EMOTION_LOGITS)))
            )
        return Classification(in_order(len(texts), parts), model.model_name, model.version)

    def close(self) -> None:
        self._client.close()


class AsyncClassifier:
    """asyncio client: a batch goes out as concurrent requests of texts of about the same length."""

    def __init__(
        self, url: str, repository: Path, *, timeout_s: float = 10.0, request_size: int = REQUEST_SIZE
    ) -> None:
        self.url, self.repository, self.timeout_s = url, repository, timeout_s
        self.request_size = request_size
        self._client = grpcaio.InferenceServerClient(url)
        self._model: ServedModel | None = None

    async def connect(self) -> ServedModel:
        try:
            config = (
                await self._client.get_model_config(MODEL, as_json=True, client_timeout=self.timeout_s)
            )["config"]
            metadata = await self._client.get_model_metadata(
                MODEL, as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
            raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
        self._model = served_model(config, metadata, self.repository)
        return self._model

    async def healthy(self) -> bool:
        try:
            return bool(await self._client.is_model_ready(MODEL, client_timeout=min(self.timeout_s, 2.0)))
        except InferenceServerException:
            return False

    async def classify(self, texts: Sequence[str]) -> Classification:
        model = self._model or await self.connect()

        async def one(rows: NDArray[np.intp], inputs: list[Any]) -> tuple[NDArray[np.intp], list[Prediction]]:
            try:
                result = await self._client.infer(
                    MODEL, inputs, outputs=OUTPUTS, client_timeout=self.timeout_s
                )
            except InferenceServerException as exc:
                raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
            return rows, to_predictions(result.as_numpy(SENTIMENT_LOGITS), result.as_numpy(EMOTION_LOGITS))

        requests = plan(model.tokenizer, texts, min(self.request_size, model.max_batch_size))
        parts = await gather_all(*(one(rows, inputs) for rows, inputs in requests))
        return Classification(in_order(len(texts), parts), model.model_name, model.version)

    async def close(self) -> None:
        await self._client.close()
