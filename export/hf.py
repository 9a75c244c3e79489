"""``python -m export hf``: two Hugging Face sequence-classification checkpoints -> one Triton model.

Each checkpoint is exported to ONNX by ``optimum`` (which validates it against PyTorch); the two graphs are
then joined into one that takes ``input_ids`` and ``attention_mask`` and returns ``sentiment_logits`` and
``emotion_logits`` with the columns in the platform's label order, so the worker makes one call per batch
and the client does not change. Each checkpoint's labels (``config.id2label``) are mapped onto ours:
several onto one (optimism -> joy) combine by log-sum-exp, so the probabilities add up; a label of ours
that a checkpoint lacks gets probability ~0. Both checkpoints must share one tokenizer (cardiffnlp's
twitter-roberta-base-sentiment-latest and j-hartmann's emotion-english-distilroberta-base do).
"""

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.typing import NDArray
from onnx import TensorProto, helper
from optimum.exporters.onnx import main_export
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

from export.data import Task
from export.onnx_export import ATOL, CHECK_TEXTS, OPSET, ExportMismatch, tokenize, torchscript_export
from export.repository import write_repository
from services.common.inference.spec import (
    ATTENTION_MASK,
    BUNDLED_LANGUAGES,
    EMOTION_LOGITS,
    EMOTION_ORDER,
    INPUT_IDS,
    OUTPUTS,
    SENTIMENT_LOGITS,
    SENTIMENT_ORDER,
    TOKENIZER_FILE,
)
from services.common.inference.tokenizer import configure
from services.common.labels import to_emotion, to_sentiment

log = logging.getLogger("export.hf")
MISSING_LOGIT = -1e4  # a label the checkpoint lacks: probability ~0


class LabelError(ValueError):
    """A checkpoint label that cannot be placed on the platform's labels."""


def groups(task: Task, names: Sequence[str]) -> list[list[int]]:
    """For each of our labels (in order), the checkpoint columns that map onto it."""
    order = SENTIMENT_ORDER if task == "sentiment" else EMOTION_ORDER
    to_ours = to_sentiment if task == "sentiment" else to_emotion
    found: list[list[int]] = [[] for _ in order]
    for column, name in enumerate(names):
        try:
            label = to_ours(name)
        except ValueError:
            raise LabelError(
                f"{task} checkpoint label {name!r} is not one of {[str(o) for o in order]}: "
                f"name the columns with --{task}-labels"
            ) from None
        found[order.index(label)].append(column)
    lacking = [str(order[i]) for i, cols in enumerate(found) if not cols]
    if task == "sentiment" and lacking:
        raise LabelError(f"the sentiment checkpoint has no {', '.join(lacking)} label")
    if lacking:
        log.warning("the %s checkpoint has no %s: those get probability ~0", task, ", ".join(lacking))
    return found


def checkpoint_labels(path: Path, override: Sequence[str] | None) -> list[str]:
    id2label = json.loads((path / "config.json").read_text())["id2label"]
    names = [id2label[str(i)] for i in range(len(id2label))]
    if override:
        if len(override) != len(names):
            raise LabelError(f"{path.name} has {len(names)} labels, {len(override)} were given")
        return list(override)
    return names


def _reorder(prefix: str, logits: str, cols: list[list[int]], output: str) -> list[onnx.NodeProto]:
    nodes, parts = [], []
    for i, group in enumerate(cols):
        part = f"{prefix}_col{i}"
        if not group:
            zero = f"{part}_zero"
            nodes += [
                helper.make_node("Gather", [logits, f"{prefix}_idx0"], [zero], axis=1),
                helper.make_node("Mul", [zero, "const_zero"], [f"{zero}_x0"]),
                helper.make_node("Add", [f"{zero}_x0", "const_missing"], [part]),
            ]
        elif len(group) == 1:
            nodes.append(helper.make_node("Gather", [logits, f"{prefix}_idx{group[0]}"], [part], axis=1))
        else:
            picked = f"{part}_picked"
            nodes += [
                helper.make_node("Gather", [logits, f"{prefix}_group{i}"], [picked], axis=1),
                helper.make_node("ReduceLogSumExp", [picked], [part], axes=[1], keepdims=1),
            ]
        parts.append(part)
    nodes.append(helper.make_node("Concat", parts, [output], axis=1))
    return nodes


def combine(sentiment: Path, emotion: Path, mapping: dict[str, list[list[int]]], target: Path) -> None:
    """One graph: both checkpoints side by side on the same inputs, columns in our order."""
    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    for prefix, path in (("sentiment", sentiment), ("emotion", emotion)):
        model = onnx.compose.add_prefix(onnx.load(str(path)), prefix=f"{prefix}/")
        initializers += list(model.graph.initializer)
        inputs = {i.name.removeprefix(f"{prefix}/"): i.name for i in model.graph.input}
        for name, prefixed in inputs.items():
            if name in (INPUT_IDS, ATTENTION_MASK):
                nodes.append(helper.make_node("Identity", [name], [prefixed]))
            elif name == "token_type_ids":  # one segment: zeros shaped like input_ids
                shape = f"{prefix}/ids_shape"
                nodes += [
                    helper.make_node("Shape", [INPUT_IDS], [shape]),
                    helper.make_node(
                        "ConstantOfShape",
                        [shape],
                        [prefixed],
                        value=helper.make_tensor("z", TensorProto.INT64, [1], [0]),
                    ),
                ]
            else:
                raise ExportMismatch(f"the {prefix} checkpoint wants an input we cannot give: {name}")
        nodes += list(model.graph.node)
        logits = model.graph.output[0].name
        cols = mapping[prefix]
        width = max((c for group in cols for c in group), default=0) + 1
        initializers += [
            helper.make_tensor(f"{prefix}_idx{c}", TensorProto.INT64, [1], [c]) for c in range(width)
        ]
        initializers += [
            helper.make_tensor(f"{prefix}_group{i}", TensorProto.INT64, [len(g)], g)
            for i, g in enumerate(cols)
            if len(g) > 1
        ]
        output = SENTIMENT_LOGITS if prefix == "sentiment" else EMOTION_LOGITS
        nodes += _reorder(prefix, logits, cols, output)
    initializers += [
        helper.make_tensor("const_zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("const_missing", TensorProto.FLOAT, [], [MISSING_LOGIT]),
    ]
    graph_inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
        for name in (INPUT_IDS, ATTENTION_MASK)
    ]
    outputs = [
        helper.make_tensor_value_info(SENTIMENT_LOGITS, TensorProto.FLOAT, ["batch", len(SENTIMENT_ORDER)]),
        helper.make_tensor_value_info(EMOTION_LOGITS, TensorProto.FLOAT, ["batch", len(EMOTION_ORDER)]),
    ]
    graph = helper.make_graph(nodes, "sentiment_emotion", graph_inputs, outputs, initializers)
    opset = max(
        o.version
        for g in (sentiment, emotion)
        for o in onnx.load(str(g)).opset_import
        if o.domain in ("", "ai.onnx")
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def torch_logits(
    source: str, cols: list[list[int]], feed: dict[str, NDArray[np.int64]]
) -> NDArray[np.float32]:
    """What the combined graph must give for one checkpoint, computed in PyTorch."""
    model = AutoModelForSequenceClassification.from_pretrained(source).eval()
    with torch.inference_mode():
        logits = model(
            input_ids=torch.from_numpy(feed[INPUT_IDS]), attention_mask=torch.from_numpy(feed[ATTENTION_MASK])
        ).logits
    columns = [
        torch.logsumexp(logits[:, group], dim=1) if group else torch.full((len(logits),), MISSING_LOGIT)
        for group in cols
    ]
    logits_ours: NDArray[np.float32] = torch.stack(columns, dim=1).numpy()
    return logits_ours


def export_hf(
    sentiment_model: str,
    emotion_model: str,
    repository: Path,
    *,
    sentiment_labels: Sequence[str] | None = None,
    emotion_labels: Sequence[str] | None = None,
    languages: Sequence[str] = BUNDLED_LANGUAGES,
) -> Path:
    with tempfile.TemporaryDirectory(prefix="export-hf-") as scratch:
        folders = {}
        sources = {"sentiment": sentiment_model, "emotion": emotion_model}
        for task, source in sources.items():
            folders[task] = Path(scratch) / task
            log.info("exporting %s (%s) with optimum", source, task)
            with torchscript_export():
                main_export(
                    source, folders[task], task="text-classification", opset=OPSET, do_validation=True
                )
        tokenizers = {task: (folders[task] / TOKENIZER_FILE).read_text() for task in folders}
        if json.loads(tokenizers["sentiment"])["model"] != json.loads(tokenizers["emotion"])["model"]:
            raise ExportMismatch(
                "the two checkpoints use different tokenizers; one model call needs one tokenizer"
            )
        mapping = {
            "sentiment": groups("sentiment", checkpoint_labels(folders["sentiment"], sentiment_labels)),
            "emotion": groups("emotion", checkpoint_labels(folders["emotion"], emotion_labels)),
        }
        combined = Path(scratch) / "model.onnx"
        combine(folders["sentiment"] / "model.onnx", folders["emotion"] / "model.onnx", mapping, combined)

        tokenizer = configure(Tokenizer.from_file(str(folders["sentiment"] / TOKENIZER_FILE)))
        feed = tokenize(tokenizer, CHECK_TEXTS)
        got = ort.InferenceSession(str(combined), providers=["CPUExecutionProvider"]).run(list(OUTPUTS), feed)
        worst = 0.0
        for name, task, value in zip(OUTPUTS, ("sentiment", "emotion"), got, strict=True):
            want = torch_logits(sources[task], mapping[task], feed)
            if value.shape != want.shape:
                raise ExportMismatch(f"{name}: ONNX shape {value.shape}, PyTorch {want.shape}")
            worst = max(worst, float(np.abs(value - want).max()))
        if worst > ATOL:
            raise ExportMismatch(f"logits differ from PyTorch by up to {worst:.2e} (allowed {ATOL:.0e})")
        log.info("combined graph matches PyTorch: largest logit difference %.2e", worst)
        name = f"hf:{Path(sentiment_model).name}+{Path(emotion_model).name}"
        return write_repository(
            repository,
            onnx=combined,
            tokenizer=folders["sentiment"] / TOKENIZER_FILE,
            model_name=name,
            languages=languages,
        )
