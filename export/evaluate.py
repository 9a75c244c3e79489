"""Score the bundled model on a labelled JSONL file: in PyTorch, or through an exported ONNX graph."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from numpy.typing import NDArray

from export.bundle import WEIGHTS, load_bundle, load_tokenizer
from export.data import Task, read_jsonl
from export.metrics import scores
from export.onnx_export import tokenize
from services.common.inference.spec import ATTENTION_MASK, INPUT_IDS, OUTPUTS

Logits = tuple[NDArray[np.float32], NDArray[np.float32]]


def torch_runner(weights: Path) -> Callable[[dict[str, NDArray[np.int64]]], Logits]:
    model, _ = load_bundle(weights)

    def run(feed: dict[str, NDArray[np.int64]]) -> Logits:
        with torch.inference_mode():
            sentiment, emotion = model(
                torch.from_numpy(feed[INPUT_IDS]), torch.from_numpy(feed[ATTENTION_MASK])
            )
        return sentiment.numpy(), emotion.numpy()

    return run


def onnx_runner(path: Path) -> Callable[[dict[str, NDArray[np.int64]]], Logits]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(feed: dict[str, NDArray[np.int64]]) -> Logits:
        sentiment, emotion = session.run(list(OUTPUTS), feed)
        return sentiment, emotion

    return run


def evaluate(
    task: Task, data: Path, weights: Path = WEIGHTS, onnx: Path | None = None, batch_size: int = 64
) -> dict[str, float]:
    """Accuracy, macro-F1 and macro-recall; ``onnx`` scores that graph instead of the PyTorch model."""
    examples = read_jsonl(data, task)
    run = onnx_runner(onnx) if onnx else torch_runner(weights)
    tokenizer = load_tokenizer()
    predicted: list[int] = []
    for start in range(0, len(examples), batch_size):
        sentiment, emotion = run(tokenize(tokenizer, examples.texts[start : start + batch_size]))
        predicted += (sentiment if task == "sentiment" else emotion).argmax(axis=1).tolist()
    return scores(examples.labels, predicted)
