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
Runner = Callable[[dict[str, NDArray[np.int64]]], Logits]


def torch_runner(weights: Path) -> Runner:
    model, _ = load_bundle(weights)

    def run(feed: dict[str, NDArray[np.int64]]) -> Logits:
        with torch.inference_mode():
            sentiment, emotion = model(
                torch.from_numpy(feed[INPUT_IDS]), torch.from_numpy(feed[ATTENTION_MASK])
            )
        return sentiment.numpy(), emotion.numpy()

    return run


def onnx_runner(path: Path) -> Runner:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(feed: dict[str, NDArray[np.int64]]) -> Logits:
        sentiment, emotion = session.run(list(OUTPUTS), feed)
        return sentiment, emotion

    return run


def predict(run: Runner, task: Task, texts: list[str], batch_size: int = 64) -> list[int]:
    """The label index ``run`` picks for each text, in order (batched by length: less padding)."""
    tokenizer = load_tokenizer()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    predicted = [0] * len(texts)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        sentiment, emotion = run(tokenize(tokenizer, [texts[i] for i in chunk]))
        labels = (sentiment if task == "sentiment" else emotion).argmax(axis=1).tolist()
        for i, label in zip(chunk, labels, strict=True):
            predicted[i] = label
    return predicted


def evaluate(task: Task, data: Path, weights: Path = WEIGHTS, onnx: Path | None = None) -> dict[str, float]:
    """Accuracy, macro-F1 and macro-recall; ``onnx`` scores that graph instead of the PyTorch model."""
    examples = read_jsonl(data, task)
    run = onnx_runner(onnx) if onnx else torch_runner(weights)
    return scores(examples.labels, predict(run, task, examples.texts))
