"""The Triton client (asyncio, gRPC): tokenize a batch, send it as concurrent requests, labels back.

It does not import torch: the tokenizer, numpy and tritonclient are enough. At connect time it reads the
served model's config and refuses a tokenizer whose fingerprint is not the one the model was exported with.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
from numpy.typing import NDArray
from tokenizers import Tokenizer
from tritonclient.utils import InferenceServerException

from services.common.aio import gather_all
from services.common.inference.spec import (
    ATTENTION_MASK,
    EMOTION_LOGITS,
    EMOTION_ORDER,
    INPUT_IDS,
    MODEL,
    SENTIMENT_LOGITS,
    SENTIMENT_ORDER,
    TOKENIZER_FILE,
)
from services.common.inference.tokenizer import load_tokenizer
from services.common.inference.types import Classification, InferenceUnavailable, ModelMismatch, Prediction
from services.common.settings import Settings

REQUEST_SIZE: int = Settings.model_fields["triton_request_size"].default
REQUESTED_OUTPUTS = [
    grpcclient.InferRequestedOutput(SENTIMENT_LOGITS),
    grpcclient.InferRequestedOutput(EMOTION_LOGITS),
]


def softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def to_predictions(
    sentiment_logits: NDArray[np.float32], emotion_logits: NDArray[np.float32], model_name: str
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
                model_name=model_name,
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


def served_model(config: dict[str, Any], metadata: dict[str, Any], repository: Path) -> ServedModel:
    params = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
    if "tokenizer_sha256" not in params or "model_name" not in params:
        raise ModelMismatch(f"the served {MODEL} carries no tokenizer fingerprint: re-export it")
    versions = metadata.get("versions") or ["1"]
    version = str(max(versions, key=int))
    tokenizer = load_tokenizer(repository / MODEL / version / TOKENIZER_FILE, params["tokenizer_sha256"])
    return ServedModel(params["model_name"], version, int(config.get("max_batch_size", 0)) or 1, tokenizer)


Request = tuple[NDArray[np.intp], list[grpcclient.InferInput]]  # the rows of the batch it holds, its inputs


def tensors(ids: NDArray[np.int64], mask: NDArray[np.int64]) -> list[grpcclient.InferInput]:
    out = []
    for name, array in ((INPUT_IDS, ids), (ATTENTION_MASK, mask)):
        tensor = grpcclient.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(np.ascontiguousarray(array))
        out.append(tensor)
    return out


def plan(tokenizer: Tokenizer, texts: Sequence[str], size: int) -> list[Request]:
    """The requests for a batch: its texts sorted by length, ``size`` to a request, each padded only to its
    own longest text. Padding a batch of posts to its longest one costs more than half the speed on a CPU;
    grouped by length, almost nothing."""
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


def restore_order(count: int, parts: Sequence[tuple[NDArray[np.intp], list[Prediction]]]) -> list[Prediction]:
    """The predictions of the requests put back in the order of the batch's texts."""
    placed: list[Prediction | None] = [None] * count
    for rows, predictions in parts:
        for row, prediction in zip(rows, predictions, strict=True):
            placed[int(row)] = prediction
    assert all(p is not None for p in placed)
    return placed  # type: ignore[return-value]


class TritonClassifier:
    """A batch goes out as concurrent requests of ``request_size`` texts of about the same length (Triton's
    dynamic batcher and its model instances work on them at once). ``connect()``, or the first
    ``classify``, checks the model and the tokenizer."""

    def __init__(
        self, url: str, repository: Path, *, timeout_s: float = 10.0, request_size: int = REQUEST_SIZE
    ) -> None:
        self.url = url
        self.repository = repository
        self.timeout_s = timeout_s
        self.request_size = request_size
        self._client = grpcaio.InferenceServerClient(url)
        self._model: ServedModel | None = None

    @property
    def model_name(self) -> str:
        return self._model.model_name if self._model else "triton"

    async def connect(self) -> ServedModel:
        try:
            config = await self._client.get_model_config(MODEL, as_json=True, client_timeout=self.timeout_s)
            metadata = await self._client.get_model_metadata(
                MODEL, as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as exc:
            raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
        self._model = served_model(config["config"], metadata, self.repository)
        return self._model

    async def healthy(self) -> bool:
        try:
            return bool(await self._client.is_model_ready(MODEL, client_timeout=min(self.timeout_s, 2.0)))
        except InferenceServerException:
            return False

    async def classify(self, texts: Sequence[str]) -> Classification:
        model = self._model or await self.connect()

        async def send(request: Request) -> tuple[NDArray[np.intp], list[Prediction]]:
            rows, inputs = request
            try:
                result = await self._client.infer(
                    MODEL, inputs, outputs=REQUESTED_OUTPUTS, client_timeout=self.timeout_s
                )
            except InferenceServerException as exc:
                raise InferenceUnavailable(f"Triton at {self.url}: {exc.message()}") from exc
            logits = result.as_numpy(SENTIMENT_LOGITS), result.as_numpy(EMOTION_LOGITS)
            return rows, to_predictions(*logits, model.model_name)

        requests = plan(model.tokenizer, texts, min(self.request_size, model.max_batch_size))
        parts = await gather_all(*(send(request) for request in requests))
        return Classification(restore_order(len(texts), parts), model.model_name, model.version)

    async def close(self) -> None:
        await self._client.close()
