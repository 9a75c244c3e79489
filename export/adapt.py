"""The second stage of training: LoRA adapters on every linear layer of MiniLM, trained with both heads.

One shared encoder, two tasks: each example carries a sentiment label, an emotion label or both (the
GoEmotions comments have both groupings), and the loss adds the two cross-entropies over the labels present.
Training starts from the first stage's heads (``export/frozen.py``); the in-domain tweets are drawn more
often than the Reddit comments; rare emotions weigh more. It shows progress, writes a checkpoint every few
hundred steps and resumes from it when run again with the same recipe. The adapters are small (a few MB)
and are merged into the encoder at export, so the served graph is exactly as fast as the one without them.
"""

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from peft import LoraConfig, get_peft_model
from torch import nn
from tqdm import tqdm

from export.bundle import Heads, embed, load_encoder, load_tokenizer
from export.data import FILES, read_jsonl
from export.frozen import class_weights
from services.common.inference.spec import EMOTION_ORDER, SENTIMENT_ORDER

log = logging.getLogger("export.adapt")
CHECKPOINTS = Path(__file__).resolve().parent.parent / ".cache" / "adapt"
IGNORE = -100
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


@dataclass(frozen=True)
class AdaptRecipe:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-4
    max_tokens: int = 64  # training only: 99 % of the posts are shorter; serving still truncates at 128
    tweet_weight: float = 8.0  # each tweet is drawn this many times as often as a Reddit comment
    sentiment_balance: float = 1.0
    emotion_balance: float = 0.5
    seed: int = 13
    limit: int = 24_000  # examples drawn per epoch (0: as many as there are, ~45,000)
    checkpoint_every: int = 200


@dataclass(frozen=True)
class Example:
    text: str
    sentiment: int  # IGNORE when the source has no sentiment label
    emotion: int
    weight: float  # how often it is drawn


def examples(data: Path, recipe: AdaptRecipe, tweets: list[int] | None = None) -> list[Example]:
    """Training examples; ``tweets`` picks which of the 2,000 tweets to use (all when None)."""
    sets = {name: read_jsonl(data / file, task) for name, (file, task) in FILES.items()}
    both: dict[str, list[int]] = {}
    for text, label in zip(sets["sentiment_train"].texts, sets["sentiment_train"].labels, strict=True):
        both[text] = [label, IGNORE]
    for text, label in zip(sets["emotion_train"].texts, sets["emotion_train"].labels, strict=True):
        both.setdefault(text, [IGNORE, IGNORE])[1] = label
    out = [Example(text, s, e, 1.0) for text, (s, e) in both.items()]
    tweet_emotion = sets["tweet_emotion_train"]
    out += [
        Example(t, IGNORE, e, 1.0) for t, e in zip(tweet_emotion.texts, tweet_emotion.labels, strict=True)
    ]
    chosen = range(len(sets["tweets"])) if tweets is None else tweets
    out += [
        Example(sets["tweets"].texts[i], sets["tweets"].labels[i], IGNORE, recipe.tweet_weight)
        for i in chosen
    ]
    return out


class Adapted(nn.Module):
    """The encoder wrapped with LoRA adapters, under a copy of the given heads (random heads had not
    learned the rare emotions after 8,000 examples in a trial; the first stage's have)."""

    def __init__(self, recipe: AdaptRecipe, heads: Heads) -> None:
        super().__init__()
        config = LoraConfig(
            r=recipe.rank, lora_alpha=recipe.alpha, lora_dropout=recipe.dropout, target_modules=list(TARGETS)
        )
        torch.manual_seed(recipe.seed)
        self.encoder = get_peft_model(load_encoder(), config)
        self.heads = copy.deepcopy(heads)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sentiment, emotion = self.heads(embed(self.encoder, ids, mask))
        return sentiment, emotion


def epoch_batches(
    weights: NDArray[np.float64], lengths: NDArray[np.int64], size: int, recipe: AdaptRecipe, epoch: int
) -> list[NDArray[np.int64]]:
    """One epoch's batches: examples drawn by weight, then grouped with others of similar length within
    windows of 64 batches (each batch pads to its longest text, so this halves the padding), then shuffled.
    The same for the same epoch and seed, so a resumed run picks up where it stopped."""
    rng = np.random.default_rng(recipe.seed + epoch)
    drawn = rng.choice(len(weights), size=size, p=weights / weights.sum())
    window = recipe.batch_size * 64
    out: list[NDArray[np.int64]] = []
    for start in range(0, size, window):
        chunk = drawn[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i : i + recipe.batch_size] for i in range(0, len(chunk), recipe.batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def fit(data_examples: list[Example], recipe: AdaptRecipe, heads: Heads, checkpoint: Path) -> Adapted:
    """Train from ``heads``, resuming from ``checkpoint`` when it exists (its name must say what it is)."""
    model = Adapted(recipe, heads)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=recipe.learning_rate, weight_decay=0.01)
    tokenizer = load_tokenizer()
    tokenizer.enable_truncation(recipe.max_tokens)
    s_labels = np.array([e.sentiment for e in data_examples])
    e_labels = np.array([e.emotion for e in data_examples])
    s_loss = nn.CrossEntropyLoss(
        weight=class_weights(s_labels[s_labels >= 0], len(SENTIMENT_ORDER), recipe.sentiment_balance),
        ignore_index=IGNORE,
    )
    e_loss = nn.CrossEntropyLoss(
        weight=class_weights(e_labels[e_labels >= 0], len(EMOTION_ORDER), recipe.emotion_balance),
        ignore_index=IGNORE,
    )
    weights = np.array([e.weight for e in data_examples])
    per_epoch = recipe.limit or len(data_examples)
    steps_per_epoch = -(-per_epoch // recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.learning_rate, total_steps=total, pct_start=0.1
    )
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["rng"])
        log.info("resuming %s at step %d of %d", checkpoint.name, step, total)
    lengths = np.array([len(e.text) for e in data_examples])
    batches: dict[int, list[NDArray[np.int64]]] = {}
    model.train()
    with tqdm(total=total, initial=step, desc=f"adapt {checkpoint.stem}", unit="batch") as bar:
        while step < total:
            epoch, within = divmod(step, steps_per_epoch)
            if epoch not in batches:
                batches = {epoch: epoch_batches(weights, lengths, per_epoch, recipe, epoch)}
            batch = [data_examples[i] for i in batches[epoch][within]]
            encoded = tokenizer.encode_batch([e.text for e in batch])
            ids = torch.tensor([e.ids for e in encoded])
            mask = torch.tensor([e.attention_mask for e in encoded])
            sentiment, emotion = model(ids, mask)
            loss = torch.zeros(())
            s_target = torch.tensor([e.sentiment for e in batch])
            e_target = torch.tensor([e.emotion for e in batch])
            if (s_target >= 0).any():
                loss = loss + s_loss(sentiment, s_target)
            if (e_target >= 0).any():
                loss = loss + e_loss(emotion, e_target)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            scheduler.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % recipe.checkpoint_every == 0 or step == total:
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                state = {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "rng": torch.get_rng_state(),
                }
                torch.save(state, checkpoint)
    return model.eval()


def predict(model: Adapted, texts: list[str], task: str, batch_size: int = 64) -> list[int]:
    """Labels for ``texts``, in their order; batched by length (serving's truncation, 128 tokens)."""
    tokenizer = load_tokenizer()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [0] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in chunk])
            ids = torch.tensor([e.ids for e in encoded])
            mask = torch.tensor([e.attention_mask for e in encoded])
            sentiment, emotion = model(ids, mask)
            for i, label in zip(
                chunk, (sentiment if task == "sentiment" else emotion).argmax(dim=1).tolist(), strict=True
            ):
                out[i] = label
    return out
