"""Train the bundled model: heads on the frozen encoder, then the encoder adapted under them.

    python -m export train --data DATA [--folds 5] [--frozen-only]

Everything is chosen on the dev files only. The 2,000 TweetEval tweets are both the in-domain training
data for sentiment and its only dev set, so they are scored by k-fold cross-validation: each fold trains both
stages without its fifth of the tweets and predicts that fifth. The other dev files are scored by the final
model, trained on everything. Both stages' figures are written to ``export/weights/heads.json`` beside the
weights, so the card says what adaptation gained.
"""

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import get_peft_model_state_dict
from safetensors.torch import save_file
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from export import adapt
from export.adapt import TARGETS, AdaptRecipe, examples
from export.bundle import ADAPTER_FILE, WEIGHTS, save_heads
from export.data import DEV, FILES
from export.frozen import FrozenRecipe, frozen_heads, prepare
from export.frozen import predict as frozen_predict
from export.metrics import confusion, scores
from services.common.inference.spec import SENTIMENT_ORDER

log = logging.getLogger("export.train")
KFOLD = "tweeteval_sentiment_kfold"


def train(
    data: Path,
    version: str,
    out: Path = WEIGHTS,
    folds: int = 5,
    frozen: FrozenRecipe = FrozenRecipe(),  # noqa: B008 (frozen dataclasses)
    adapted: AdaptRecipe | None = AdaptRecipe(),  # noqa: B008
    checkpoints: Path = adapt.CHECKPOINTS,
) -> dict[str, dict[str, Any]]:
    """Both stages (only the first when ``adapted`` is None): k-fold figures on the tweets when ``folds`` > 1,
    then the final model on all the data, scored on the dev files and saved to ``out``."""
    started = time.monotonic()
    p = prepare(data)
    stages = ["frozen"] if adapted is None else ["frozen", "adapted"]
    figures: dict[str, dict[str, Any]] = {stage: {} for stage in stages}
    key = hashlib.sha256(
        json.dumps([asdict(frozen), adapted and asdict(adapted), folds], sort_keys=True).encode()
    ).hexdigest()[:12]
    tweets = p.sets["tweets"]

    if folds > 1:
        truth: list[int] = []
        guesses: dict[str, list[int]] = {stage: [] for stage in stages}
        split = StratifiedKFold(folds, shuffle=True, random_state=frozen.seed)
        for fold, (train_idx, test_idx) in enumerate(
            tqdm(list(split.split(tweets.texts, tweets.labels)), desc="k-fold", unit="fold")
        ):
            heads = frozen_heads(p, frozen, train_idx)
            truth += [tweets.labels[i] for i in test_idx]
            guesses["frozen"] += frozen_predict(heads.sentiment, p.vectors["tweets"][test_idx])
            if adapted is not None:
                model = adapt.fit(
                    examples(data, adapted, train_idx.tolist()),
                    adapted,
                    heads,
                    checkpoints / f"fold{fold}-{key}.pt",
                )
                guesses["adapted"] += adapt.predict(model, [tweets.texts[i] for i in test_idx], "sentiment")
        for stage in stages:
            figures[stage][KFOLD] = scores(truth, guesses[stage])
            log.info("%s, %d-fold on the tweets: %s", stage, folds, figures[stage][KFOLD])
        # rows: true label, columns: predicted, in SENTIMENT_ORDER (benchmarks/accuracy.py draws them)
        confusions = {stage: confusion(truth, guesses[stage], len(SENTIMENT_ORDER)) for stage in stages}

    heads = frozen_heads(p, frozen, np.arange(len(tweets)))
    for name, role in DEV.items():
        head = heads.sentiment if FILES[role][1] == "sentiment" else heads.emotion
        figures["frozen"][name] = scores(p.labels[role].tolist(), frozen_predict(head, p.vectors[role]))
    details: dict[str, Any] = {"hidden": frozen.hidden, "recipe": {"frozen": asdict(frozen)}}
    if folds > 1:
        details["kfold_confusion"] = confusions
    if adapted is None:
        save_heads(heads, version, {**details, "dev": figures["frozen"], **_took(started)}, weights=out)
        return figures

    model = adapt.fit(examples(data, adapted), adapted, heads, checkpoints / f"final-{key}.pt")
    for name, role in DEV.items():
        dev = p.sets[role]
        figures["adapted"][name] = scores(dev.labels, adapt.predict(model, dev.texts, FILES[role][1]))
    out.mkdir(parents=True, exist_ok=True)
    adapter = {
        k: v.to(torch.float16).contiguous() for k, v in get_peft_model_state_dict(model.encoder).items()
    }
    save_file(adapter, str(out / ADAPTER_FILE))
    details["recipe"]["adapted"] = asdict(adapted)
    details["adapter"] = {"rank": adapted.rank, "alpha": adapted.alpha, "targets": list(TARGETS)}
    details["dev"] = figures["adapted"]
    details["dev_frozen_encoder"] = figures["frozen"]  # what the first stage alone reached: version 1
    save_heads(model.heads, version, {**details, **_took(started)}, weights=out)
    return figures


def _took(started: float) -> dict[str, float]:
    return {"train_seconds": round(time.monotonic() - started, 1)}
