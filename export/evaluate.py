"""Score the bundled model on a labelled JSONL file."""

from pathlib import Path

import torch

from export.bundle import WEIGHTS, load_bundle, load_tokenizer
from export.data import Task, read_jsonl
from export.metrics import scores


def evaluate(task: Task, data: Path, weights: Path = WEIGHTS, batch_size: int = 64) -> dict[str, float]:
    examples = read_jsonl(data, task)
    model, _ = load_bundle(weights)
    tokenizer = load_tokenizer()
    predicted: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            batch = tokenizer.encode_batch(examples.texts[start : start + batch_size])
            ids = torch.tensor([e.ids for e in batch])
            mask = torch.tensor([e.attention_mask for e in batch])
            sentiment, emotion = model(ids, mask)
            predicted += (sentiment if task == "sentiment" else emotion).argmax(dim=1).tolist()
    return scores(examples.labels, predicted)
