"""`python -m export train` for a few steps on a tiny sample: both stages train, checkpoint, resume, export."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from export import adapt
from export.adapt import AdaptRecipe, examples
from export.bundle import ADAPTER_FILE, CARD_FILE, Heads, load_bundle, load_encoder, load_tokenizer
from export.data import DEV, FILES
from export.onnx_export import tokenize
from export.train import KFOLD, train

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY = AdaptRecipe(rank=4, alpha=8, batch_size=4, limit=12, checkpoint_every=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every file the training reads, made of the project's own small fixtures."""
    folder = tmp_path_factory.mktemp("data")
    for file, task in FILES.values():
        shutil.copyfile(FIXTURES / f"{task}.jsonl", folder / file)
    return folder


def encode(text: str, weights: Path | None = None) -> torch.Tensor:
    """Token states from the encoder of the bundle in ``weights``, or from the encoder as published."""
    encoder = load_bundle(weights)[0].encoder if weights else load_encoder()
    feed = {k: torch.from_numpy(v) for k, v in tokenize(load_tokenizer(), [text]).items()}
    with torch.inference_mode():
        return encoder(**feed).last_hidden_state  # type: ignore[no-any-return]


def test_examples_carry_both_labels_where_the_source_has_both(data: Path) -> None:
    made = examples(data, TINY)
    both = [e for e in made if e.sentiment >= 0 and e.emotion >= 0]
    assert both, "GoEmotions texts appear in both groupings"
    tweets = [e for e in made if e.weight == TINY.tweet_weight]
    assert len(tweets) == 18
    assert all(e.emotion < 0 for e in tweets)


def test_both_stages_train_and_the_adapters_merge_into_the_exported_encoder(
    data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "weights"
    figures = train(data, "t", out=out, folds=2, adapted=TINY, checkpoints=tmp_path / "ckpt")
    for stage in ("frozen", "adapted"):
        assert set(figures[stage]) == {KFOLD, *DEV}
        assert set(figures[stage][KFOLD]) == {"accuracy", "macro_f1", "macro_recall"}
    assert len(list((tmp_path / "ckpt").iterdir())) == 3, "two folds and the final model"
    assert (out / ADAPTER_FILE).stat().st_size < 5_000_000
    card = json.loads((out / CARD_FILE).read_text())
    assert card["dev"] == figures["adapted"]
    assert card["dev_frozen_encoder"] == figures["frozen"]
    _, loaded = load_bundle(out)
    assert loaded.model_name == "minilm-bundle@t"
    merged, original = encode("what a day", out), encode("what a day")
    assert not torch.allclose(merged, original), "the adapters changed the encoder"
    adapted, _ = load_bundle(out)
    assert not any("lora" in name for name, _ in adapted.named_parameters()), "merged, not wrapped"


def test_the_first_stage_alone_leaves_the_encoder_as_it_is(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "weights"
    out.mkdir()
    (out / ADAPTER_FILE).write_bytes(b"stale")
    figures = train(data, "f", out=out, folds=0, adapted=None)
    assert list(figures) == ["frozen"]
    assert not (out / ADAPTER_FILE).exists(), "a stale adapter would be merged into the wrong heads"
    assert torch.equal(encode("what a day", out), encode("what a day"))


def test_training_resumes_from_its_checkpoint(data: Path, tmp_path: Path) -> None:
    made = examples(data, TINY)
    heads = Heads()
    checkpoint = tmp_path / "r.pt"
    first = adapt.fit(made, TINY, heads, checkpoint)
    assert torch.load(checkpoint, weights_only=False)["step"] == 3  # 12 examples / batch 4
    again = adapt.fit(made, TINY, heads, checkpoint)  # finds the finished checkpoint: no step to take
    for (name, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert np.array_equal(
        adapt.predict(first, ["fine"], "emotion"), adapt.predict(again, ["fine"], "emotion")
    )
