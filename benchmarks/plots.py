"""``python -m benchmarks.plots``: the plots of RESULTS.md, drawn from the results files (run the benchmarks
first; a missing file skips its plot).

- ``results/latency_vs_load.png``: the API's read latency (p50, p95, p99) against locust users, from
  ``load.json``'s curve, with the targets.
- ``results/throughput_vs_batch.png``: posts/s against batch size, from ``inference.json`` (this machine's
  CPU: in-process ONNX Runtime and Triton, fp32 and int8) and, once a GPU has run ``benchmarks/gpu/run.py``,
  ``gpu.json`` (each model and precision).
"""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def latency_vs_load(load: dict[str, Any]) -> Path:
    curve = load["curve"]
    users = [c["users"] for c in curve]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        ax.plot(users, [c[key] for c in curve], marker="o", label=label)
    ax.axhline(50, color="tab:orange", linestyle="--", linewidth=1, label="target p95 (50 ms)")
    ax.axhline(150, color="tab:green", linestyle="--", linewidth=1, label="target p99 (150 ms)")
    for c in curve:
        ax.annotate(
            f"{c['rps']:.0f}/s",
            (c["users"], c["p50_ms"]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=7,
            color="grey",
        )
    ax.set_yscale("log")
    ax.set_xlabel("locust users (1 request a second each; grey: requests/s served)")
    ax.set_ylabel("read latency, ms (log)")
    ax.set_title(f"API reads on 1,000,000 posts, whole platform, feed {load['feed']:.0f} posts/s")
    return _save(fig, [ax], "latency_vs_load.png")


def throughput_vs_batch(inference: dict[str, Any] | None, gpu: dict[str, Any] | None) -> Path:
    panels = [p for p in (inference, gpu) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), squeeze=False)
    if inference:
        ax = axes[0][0]
        for precision in ("fp32", "int8"):
            for way, label in (("in_process", "in-process ORT"), ("triton", "Triton gRPC")):
                points = {int(b): v for b, v in inference[precision][way].items() if b.isdigit()}
                batches = sorted(points)
                ax.plot(batches, [points[b] for b in batches], marker="o", label=f"{label}, {precision}")
        ax.set_title(f"CPU ({inference['machine']['cpus']} cores): the bundled model")
        ax.set_ylabel("posts/s")
    if gpu:
        ax = axes[0][-1]
        series: dict[str, list[tuple[int, float]]] = {}
        for r in gpu["results"]:
            series.setdefault(f"{r['model']}, {r['dtype']}", []).append((r["batch"], r["posts_per_s"]))
        for label, line in series.items():
            ax.plot([b for b, _ in line], [v for _, v in line], marker="o", label=label)
        ax.set_yscale("log")
        ax.set_title(f"GPU: {gpu['device']}")
        ax.set_ylabel("posts/s (log)")
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("batch size")
    return _save(fig, list(axes[0]), "throughput_vs_batch.png")


def _save(fig: Figure, axes: list[Axes], name: str) -> Path:
    """Grid and legend on each of ``axes``, then the figure to results/``name``."""
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / name
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    load, inference, gpu = _load("load"), _load("inference"), _load("gpu")
    if load and load.get("curve"):
        print(f"wrote {latency_vs_load(load)}")
    if inference or gpu:
        print(f"wrote {throughput_vs_batch(inference, gpu)}")


if __name__ == "__main__":
    main()
