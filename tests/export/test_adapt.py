"""`python -m export adapt` for a few steps on a tiny sample: it trains, checkpoints, resumes and exports."""

import shutil
from pathlib import Path

import pytest
import torch

from export.adapt import AdaptRecipe, adapt, examples, fit
from export.bundle import ADAPTER_FILE, load_bundle, load_tokenizer
from export.onnx_export import tokenize
from export.train import FILES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY = AdaptRecipe(rank=4, alpha=8, batch_size=4, limit=12, checkpoint_every=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every file the training reads, made of the project's own small fixtures."""
    folder = tmp_path_factory.mktemp("data")
    for file, task in FILES.values():
        shutil.copyfile(FIXTURES / f"{task}.jsonl", folder / file)
    return folder


def test_examples_carry_both_labels_where_the_source_has_both(data: Path) -> None:
    made = examples(data, TINY)
    both = [e for e in made if e.sentiment >= 0 and e.emotion >= 0]
    assert both, "GoEmotions texts appear in both groupings"
    tweets = [e for e in made if e.weight == TINY.tweet_weight]
    assert len(tweets) == 18
    assert all(e.emotion < 0 for e in tweets)


def test_a_few_steps_train_and_the_adapters_merge_into_the_exported_encoder(
    data: Path, tmp_path: Path
) -> None:
    figures = adapt(data, TINY, version="t", folds=0, out=tmp_path / "weights", checkpoints=tmp_path / "ckpt")
    assert set(figures["goemotions_ekman_dev"]) == {"accuracy", "macro_f1", "macro_recall"}
    assert (tmp_path / "weights" / ADAPTER_FILE).stat().st_size < 5_000_000
    adapted, card = load_bundle(tmp_path / "weights")
    plain, _ = load_bundle()
    assert card.model_name == "minilm-bundle@t"
    feed = {k: torch.from_numpy(v) for k, v in tokenize(load_tokenizer(), ["what a day"]).items()}
    with torch.inference_mode():
        merged = adapted.encoder(**feed).last_hidden_state
        original = plain.encoder(**feed).last_hidden_state
    assert not torch.allclose(merged, original), "the adapters changed the encoder"
    assert not any("lora" in name for name, _ in adapted.named_parameters()), "merged, not wrapped"


def test_training_resumes_from_its_checkpoint(data: Path, tmp_path: Path) -> None:
    made = examples(data, TINY)
    first = fit(made, TINY, "r", tmp_path)
    [checkpoint] = tmp_path.iterdir()
    assert torch.load(checkpoint, weights_only=False)["step"] == 3  # 12 examples / batch 4
    again = fit(made, TINY, "r", tmp_path)  # finds the finished checkpoint: no step to take
    for (name, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
