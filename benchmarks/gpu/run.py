"""One prepared script for a GPU machine with no network (an NVIDIA H200, for one): how
fast the classifiers' architectures run, at batch 1 to 1,024, in fp16 and fp32.

    python run.py --out gpu.json                      # on the GPU machine: about 5 minutes, stops by --budget-s
    python run.py --tiny --device cpu --out tiny.json # here: the same code at a tiny size (the tests run it)

Standalone: needs only torch and transformers (no project code, no weights, nothing downloaded). The models
are randomly initialised, which is fine for speed:

- ``bundled``: the bundled model's architecture (all-MiniLM-L6-v2: 6 layers, hidden 384) with its two heads
  (3 sentiments, 7 emotions) on the mean-pooled sentence, as the exported ONNX graph computes it;
- ``roberta-base``: a RoBERTa-base-sized classifier (12 layers, hidden 768, 3 labels).

Each (model, dtype, batch) is warmed up, then timed over repeated forward passes of --tokens tokens a post
(synchronised on the GPU); posts/s and the latency of one batch (p50) are written to --out as JSON, with the
device, torch version and the best batch per model and dtype. Targets at the best batch in fp16:
bundled >= 100,000 posts/s, roberta-base >= 20,000.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

import torch
from transformers import BertConfig, BertModel, RobertaConfig, RobertaForSequenceClassification

BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


class Bundled(torch.nn.Module):
    """The bundled model's shape: a MiniLM encoder, mean pooling over the mask, two linear heads."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.sentiment = torch.nn.Linear(config.hidden_size, 3)
        self.emotion = torch.nn.Linear(config.hidden_size, 7)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.sentiment(pooled), self.emotion(pooled)


def models(tiny: bool) -> dict[str, tuple[torch.nn.Module, int]]:
    """name -> (model, vocabulary size)."""
    scale = 4 if tiny else 1  # --tiny: a quarter of the layers and width
    minilm = BertConfig(
        vocab_size=30522,
        hidden_size=384 // scale,
        num_hidden_layers=max(1, 6 // scale),
        num_attention_heads=12 // scale,
        intermediate_size=1536 // scale,
        max_position_embeddings=512,
    )
    roberta = RobertaConfig(
        vocab_size=50265,
        hidden_size=768 // scale,
        num_hidden_layers=max(1, 12 // scale),
        num_attention_heads=12 // scale,
        intermediate_size=3072 // scale,
        max_position_embeddings=514,
        num_labels=3,
    )
    return {
        "bundled": (Bundled(minilm), minilm.vocab_size),
        "roberta-base": (RobertaForSequenceClassification(roberta), roberta.vocab_size),
    }


def timed(
    model: torch.nn.Module, batch: int, tokens: int, vocab: int, device: torch.device, repeats: int
) -> list[float]:
    ids = torch.randint(5, vocab - 1, (batch, tokens), device=device)
    mask = torch.ones_like(ids)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 2):  # two warm-up passes
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 2:
                times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokens", type=int, default=64, help="tokens a post (default 64)")
    parser.add_argument("--budget-s", type=float, default=420, help="stop measuring after this long")
    parser.add_argument(
        "--tiny", action="store_true", help="small models, batches 1 to 4, fp32: a check on the CPU"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    batches = BATCHES[:3] if args.tiny else BATCHES
    dtypes = ["fp32"] if device.type == "cpu" else ["fp16", "fp32"]
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    out_of_time = False
    for name, (model, vocab) in models(args.tiny).items():
        for dtype in dtypes:
            m = model.to(device=device, dtype=torch.float16 if dtype == "fp16" else torch.float32).eval()
            for batch in batches:
                if time.monotonic() - started > args.budget_s:
                    out_of_time = True
                    break
                try:
                    times = timed(m, batch, args.tokens, vocab, device, repeats=3 if args.tiny else 20)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    break
                p50 = statistics.median(times)
                results.append(
                    {
                        "model": name,
                        "dtype": dtype,
                        "batch": batch,
                        "latency_ms_p50": round(1000 * p50, 3),
                        "posts_per_s": round(batch / p50, 1),
                    }
                )
                print(
                    f"{name:13} {dtype} batch {batch:5}: {batch / p50:12,.0f} posts/s, {1000 * p50:8.2f} ms",
                    flush=True,
                )
            model.to("cpu")
    best: dict[str, dict[str, Any]] = {}
    for r in results:
        key = f"{r['model']} {r['dtype']}"
        if key not in best or r["posts_per_s"] > best[key]["posts_per_s"]:
            best[key] = r
    report = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "tokens_per_post": args.tokens,
        "tiny": args.tiny,
        "out_of_time": out_of_time,
        "seconds": round(time.monotonic() - started, 1),
        "results": results,
        "best": best,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
