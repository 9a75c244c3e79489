"""benchmarks/gpu/run.py is carried to a GPU machine and run once: it must work the first time. Here it runs
on the CPU at its tiny size, as a standalone script (no project imports on that machine)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "run.py"


@pytest.mark.slow
def test_the_gpu_script_runs_standalone_and_reports_every_model_and_batch(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out)],
        cwd=tmp_path,  # not the project: the script must not need it
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["tiny"] is True
    assert report["out_of_time"] is False
    assert {(r["model"], r["dtype"], r["batch"]) for r in report["results"]} == {
        (model, "fp32", batch) for model in ("bundled", "roberta-base") for batch in (1, 2, 4)
    }
    assert all(r["posts_per_s"] > 0 and r["latency_ms_p50"] > 0 for r in report["results"])
    assert set(report["best"]) == {"bundled fp32", "roberta-base fp32"}
