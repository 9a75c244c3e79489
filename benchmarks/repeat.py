"""``python -m benchmarks.repeat NAME [--runs 3] [--label after] [--tree DIR] [-- ARGS]``: one benchmark run
several times, and the median of each of its headline figures (single runs move by ±30 % on 2 cores).

Runs ``python -m benchmarks.NAME ARGS`` in DIR (default: this checkout; another checkout, such as a
``git worktree`` of an older commit, is measured with this checkout's interpreter and packages), reads
``DIR/benchmarks/results/NAME.json`` after each run, writes every run and the medians to
``results/repeat_NAME_LABEL.json`` here, and rewrites RESULTS.md's section ``repeat-NAME`` with the
medians of every label measured so far, side by side. Benchmarks: pipeline, load.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import HERE, table, update_section, write_json

ROOT = HERE.parent
Figure = tuple[str, Callable[[dict[str, Any]], float]]


def _reads(result: dict[str, Any], percentile: str, worst: bool) -> float:
    reads = result["reads"]
    if not worst:
        return float(reads["all reads"][percentile])
    return max(float(r[percentile]) for name, r in reads.items() if name != "all reads")


def _named(result: dict[str, Any], name: str) -> float:
    """One read's p95 (NaN in a run from before the load mix had it)."""
    return float(result["reads"].get(name, {}).get("p95_ms", "nan"))


FIGURES: dict[str, list[Figure]] = {
    "pipeline": [
        ("sustained posts/s", lambda r: r["posts_per_s"]),
        ("in-process ceiling posts/s (same run)", lambda r: r["ceiling_posts_per_s"]),
        ("x the ceiling", lambda r: r["vs_ceiling"]),
        ("x naive", lambda r: r["vs_naive"]),
        ("latency p99 ms at half rate", lambda r: r["latency_p99_ms"]),
        ("worker RSS MB", lambda r: r["worker_rss_mb"]),
    ],
    "load": [
        ("all reads p95 ms (100 users)", lambda r: _reads(r, "p95_ms", worst=False)),
        ("all reads p99 ms (100 users)", lambda r: _reads(r, "p99_ms", worst=False)),
        ("worst read p95 ms", lambda r: _reads(r, "p95_ms", worst=True)),
        ("worst read p99 ms", lambda r: _reads(r, "p99_ms", worst=True)),
        ("read failures", lambda r: r["reads"]["all reads"]["failures"]),
        ("topic posts p95 ms", lambda r: _named(r, "/api/posts [topic]")),
        ("phrase search p95 ms", lambda r: _named(r, "/api/posts [search phrase]")),
        ("a new topic's backfill s", lambda r: float(r.get("backfill", {}).get("seconds", "nan"))),
        (
            "all reads p95 ms during it",
            lambda r: float(r.get("backfill", {}).get("reads_meanwhile", {}).get("p95_ms", "nan")),
        ),
    ],
}


def run_once(name: str, tree: Path, args: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", f"benchmarks.{name}", *args]
    done = subprocess.run(command, cwd=tree, check=False)  # noqa: S603 - our own benchmark
    if done.returncode:
        raise SystemExit(f"benchmarks.{name} failed in {tree} (exit {done.returncode})")
    return json.loads((tree / "benchmarks" / "results" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def summary(name: str, runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for label, figure in FIGURES[name]:
        values = [float(figure(run)) for run in runs]
        out[label] = {"median": round(statistics.median(values), 3), "runs": values}
    return out


def section(name: str) -> str:
    """The medians of every label measured so far (before, after, ...), in the order they were measured."""
    found = sorted(
        HERE.glob(f"results/repeat_{name}_*.json"), key=lambda p: json.loads(p.read_text())["order"]
    )
    measured = {json.loads(p.read_text())["label"]: json.loads(p.read_text()) for p in found}
    header = ["figure", *(f"{label} (median of {len(m['runs'])})" for label, m in measured.items())]
    rows = []
    for figure, _ in FIGURES[name]:
        cells = []
        for m in measured.values():
            f = m["figures"].get(figure)  # a label measured before the figure existed has none
            cells.append(f"**{f['median']:g}** ({', '.join(f'{v:g}' for v in f['runs'])})" if f else "-")
        rows.append([figure, *cells])
    commits = "; ".join(f"{label}: {m['commit']}" for label, m in measured.items())
    return (
        f"## `{name}`, repeated (`python -m benchmarks.repeat {name}`)\n\n"
        f"Each figure's median over the runs, each run's figure in brackets; the same machine, one label after "
        f"the other ({commits}).\n\n{table(header, rows)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=sorted(FIGURES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="after", help="what is measured, e.g. before or after")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to run it in (default: this)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:cut])
    args = argv[cut + 1 :]  # after --: the benchmark's own arguments
    tree = options.tree.resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from the PATH, as a developer runs it
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runs = [run_once(options.name, tree, args) for _ in range(options.runs)]
    order = time.time()  # the labels' columns in the order they were last measured
    figures = summary(options.name, runs)
    write_json(
        f"repeat_{options.name}_{options.label}",
        {
            "label": options.label,
            "order": order,
            "commit": commit,
            "args": args,
            "runs": runs,
            "figures": figures,
        },
    )
    update_section(f"repeat-{options.name}", section(options.name))
    print(table(["figure", "median", "runs"], [[k, v["median"], v["runs"]] for k, v in figures.items()]))


if __name__ == "__main__":
    main()
