"""Turn the bundled model into ONNX and check the graph against PyTorch on real sentences.

A shape mismatch is fatal, and so is a logit further than ``ATOL`` from PyTorch's: a graph that disagrees
with its source must never reach the model repository.
"""

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray
from tokenizers import Tokenizer

from export.bundle import Bundle
from services.common.inference.spec import (
    ATTENTION_MASK,
    EMOTION_LOGITS,
    INPUT_IDS,
    OUTPUTS,
    SENTIMENT_LOGITS,
)

log = logging.getLogger("export.onnx")
ATOL = 1e-4
OPSET = 17

# Real posts of every shape the platform meets: short, long, emoji, hashtags, other languages, blank.
CHECK_TEXTS = [
    "I love this new phone, the camera is amazing! 📸 #happy",
    "Worst customer service ever. Waited 3 hours and nobody answered. @support fix this",
    "The meeting is moved to 3pm on Thursday.",
    "omg i cant believe they cancelled the show 😭😭 why would they do that",
    "Breaking: earthquake of magnitude 6.1 reported off the coast, no tsunami warning issued",
    "Je suis tellement content de vous voir demain !",
    "¿Alguien sabe si el metro funciona hoy?",
    "東京は今日とても暑いです",
    "   ",
    "",
    "k",
    "This is a long review. " * 60,
]


@contextmanager
def torchscript_export() -> Iterator[None]:
    """The TorchScript exporter and its internals are deprecated, but it is the exporter checked here (the
    dynamo one needs onnxscript), and optimum uses it too; the tracer's warnings about Python values in
    BERT's mask code are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        yield


class ExportMismatch(RuntimeError):
    """The ONNX graph does not reproduce the PyTorch model."""


def tokenize(tokenizer: Tokenizer, texts: list[str]) -> dict[str, NDArray[np.int64]]:
    batch = tokenizer.encode_batch(texts)
    return {
        INPUT_IDS: np.array([e.ids for e in batch], dtype=np.int64),
        ATTENTION_MASK: np.array([e.attention_mask for e in batch], dtype=np.int64),
    }


def export_onnx(model: Bundle, tokenizer: Tokenizer, path: Path) -> None:
    sample = {name: torch.from_numpy(array) for name, array in tokenize(tokenizer, CHECK_TEXTS[:2]).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(), torchscript_export():
        torch.onnx.export(
            model,
            (sample[INPUT_IDS], sample[ATTENTION_MASK]),
            str(path),
            input_names=[INPUT_IDS, ATTENTION_MASK],
            output_names=list(OUTPUTS),
            dynamic_axes={
                INPUT_IDS: {0: "batch", 1: "tokens"},
                ATTENTION_MASK: {0: "batch", 1: "tokens"},
                SENTIMENT_LOGITS: {0: "batch"},
                EMOTION_LOGITS: {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def check_onnx(model: Bundle, tokenizer: Tokenizer, path: Path, texts: list[str] = CHECK_TEXTS) -> float:
    """The largest difference between ONNX Runtime's and PyTorch's logits; raises ExportMismatch."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    # One batch of all the texts (padding exercised) and single texts (no padding).
    for batch in [texts, *([t] for t in texts[:4])]:
        feed = tokenize(tokenizer, batch)
        got = session.run(list(OUTPUTS), feed)
        with torch.inference_mode():
            want = [
                t.numpy()
                for t in model(torch.from_numpy(feed[INPUT_IDS]), torch.from_numpy(feed[ATTENTION_MASK]))
            ]
        for name, g, w in zip(OUTPUTS, got, want, strict=True):
            if g.shape != w.shape:
                raise ExportMismatch(f"{name}: ONNX shape {g.shape}, PyTorch {w.shape}")
            worst = max(worst, float(np.abs(g - w).max()))
    if worst > ATOL:
        raise ExportMismatch(f"logits differ from PyTorch by up to {worst:.2e} (allowed {ATOL:.0e})")
    log.info("ONNX matches PyTorch on %d texts: largest logit difference %.2e", len(texts), worst)
    return worst
