"""`python -m export hf` on two tiny checkpoints that the test makes (no hub), served by the real Triton."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from export.hf import LabelError, export_hf, groups
from services.common.inference.triton_client import TritonClassifier
from services.common.labels import Emotion, Sentiment
from tests.support import start_triton

WORDS = ["i", "love", "hate", "this", "the", "day", "is", "great", "awful", "meh", "ok", "so", "very", "not"]
SENTIMENT_LABELS = ["positive", "negative", "neutral"]  # not our order: the export must reorder
EMOTION_LABELS = ["joy", "optimism", "anger", "sadness", "fear", "disgust", "neutral"]  # no surprise


def tiny_checkpoint(folder: Path, labels: list[str], seed: int) -> Path:
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = BertConfig(  # type: ignore[no-untyped-call]
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)  # type: ignore[no-untyped-call]
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return (
        tiny_checkpoint(root / "sentiment", SENTIMENT_LABELS, seed=1),
        tiny_checkpoint(root / "emotion", EMOTION_LABELS, seed=2),
    )


def torch_probabilities(folder: Path, text: str) -> NDArray[np.float32]:
    model = BertForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    with torch.inference_mode():
        logits = model(**tokenizer([text], return_tensors="pt", return_token_type_ids=False)).logits
    probabilities: NDArray[np.float32] = torch.softmax(logits, dim=1)[0].numpy()
    return probabilities


async def test_two_checkpoints_become_one_served_model_in_our_label_order(
    checkpoints: tuple[Path, Path], tmp_path: Path
) -> None:
    sentiment, emotion = checkpoints
    repository = tmp_path / "repo"
    folder = export_hf(str(sentiment), str(emotion), repository)
    manifest = json.loads((folder / "1" / "manifest.json").read_text())
    assert manifest["model_name"] == "hf:sentiment+emotion"

    text = "i love this great day"
    server = start_triton(repository, tmp_path)
    try:
        client = TritonClassifier(server.url, repository)
        [prediction] = (await client.classify([text])).predictions
        await client.close()
    finally:
        server.stop()
    s = torch_probabilities(sentiment, text)
    want = {Sentiment.POSITIVE: s[0], Sentiment.NEGATIVE: s[1], Sentiment.NEUTRAL: s[2]}
    assert prediction.sentiment_scores == pytest.approx(want, abs=1e-4)
    e = torch_probabilities(emotion, text)
    assert prediction.emotion_scores[Emotion.JOY] == pytest.approx(e[0] + e[1], abs=1e-4)  # joy + optimism
    assert prediction.emotion_scores[Emotion.ANGER] == pytest.approx(e[2], abs=1e-4)
    assert prediction.emotion_scores[Emotion.SURPRISE] == pytest.approx(0.0, abs=1e-6)


def test_labels_that_cannot_be_placed_are_refused_with_the_way_out() -> None:
    with pytest.raises(LabelError, match="name the columns with --sentiment-labels"):
        groups("sentiment", ["LABEL_0", "LABEL_1", "LABEL_2"])
    with pytest.raises(LabelError, match="has no neutral label"):
        groups("sentiment", ["negative", "positive"])
    assert groups("emotion", ["optimism", "joy", "anger"])[3] == [0, 1]
