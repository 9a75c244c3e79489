"""benchmarks/plots.py draws RESULTS.md's plots from the results files: both, from files shaped as the
benchmarks write them (this machine's inference figures, a load curve, a GPU report)."""

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_plots_are_drawn_from_the_results_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(plots.RESULTS / "inference.json", tmp_path / "inference.json")
    curve = [
        {
            "users": n,
            "rps": n * 0.95,
            "p50_ms": 4 + n / 20,
            "p95_ms": 20 + n / 2,
            "p99_ms": 60 + n,
            "failures": 0,
        }
        for n in (10, 50, 100, 200)
    ]
    (tmp_path / "load.json").write_text(json.dumps({"feed": 100, "curve": curve}))
    gpu = [
        {"model": model, "dtype": dtype, "batch": batch, "latency_ms_p50": 1.0, "posts_per_s": batch * speed}
        for model, speed in (("bundled", 900.0), ("roberta-base", 200.0))
        for dtype in ("fp16", "fp32")
        for batch in (1, 8, 64, 1024)
    ]
    (tmp_path / "gpu.json").write_text(json.dumps({"device": "NVIDIA H200", "results": gpu}))
    monkeypatch.setattr(plots, "RESULTS", tmp_path)

    plots.main()

    for name in ("latency_vs_load.png", "throughput_vs_batch.png"):
        drawn = (tmp_path / name).read_bytes()
        assert drawn.startswith(PNG)
        assert len(drawn) > 20_000, name  # axes, lines and labels, not an empty canvas
