"""Posts per second of the bundled model through Triton gRPC and in-process ONNX Runtime, fp32 and int8.

    .venv/bin/python -m benchmarks.inference      (make bench-inference; a few minutes)

Same texts, same run, same machine. Triton is the embedded server (`make run`'s), two instances of one
thread each; in-process ONNX Runtime gets both cores. Triton is called through the worker's asyncio client,
which sends a batch as concurrent requests of TRITON_REQUEST_SIZE texts; "4 x 32" is how the workers call
it: four batches of 32 in flight at once. Writes benchmarks/results/inference.json and a table in
RESULTS.md.
"""

import argparse
import asyncio
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime as ort
import psutil

from benchmarks.corpus import posts
from benchmarks.report import table, update_section, write_json
from export.build import CPU_PRECISION, build
from export.bundle import load_tokenizer
from export.onnx_export import tokenize
from export.repository import ONNX_FILE, ONNX_INT8_FILE, write_repository
from services.common.inference.spec import MODEL, OUTPUTS, TOKENIZER_FILE
from services.common.inference.triton_client import REQUEST_SIZE, TritonClassifier
from services.launcher.tritonserver import EmbeddedTriton

BATCHES = (1, 8, 32, 64)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def in_process(graph: Path, texts: list[str], batch: int) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    tokenizer = load_tokenizer()
    session.run(list(OUTPUTS), tokenize(tokenizer, texts[:batch]))  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        session.run(list(OUTPUTS), tokenize(tokenizer, texts[i : i + batch]))
    return rate(len(texts), time.perf_counter() - started)


def through_triton(url: str, repository: Path, texts: list[str], batch: int, callers: int = 1) -> float:
    """Posts/s when ``callers`` batches of ``batch`` texts are in flight at once, through one client."""

    async def run() -> float:
        client = TritonClassifier(url, repository)
        try:
            await client.classify(texts[:batch])  # connect and warm up
            parts = [texts[i : i + batch] for i in range(0, len(texts), batch)]

            async def caller(mine: list[list[str]]) -> None:
                for part in mine:
                    await client.classify(part)

            started = time.perf_counter()
            await asyncio.gather(*(caller(parts[c::callers]) for c in range(callers)))
            return rate(len(texts), time.perf_counter() - started)
        finally:
            await client.close()

    return asyncio.run(run())


def memory_mb(server: EmbeddedTriton) -> dict[str, float]:
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    stubs = process.children(recursive=True)
    return {
        "server_rss_mb": round(process.memory_info().rss / 2**20, 1),
        "stubs_rss_mb": round(sum(p.memory_info().rss for p in stubs) / 2**20, 1),
        "stubs": len(stubs),
    }


def measure(repository: Path, graph: Path, texts: list[str], scratch: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"in_process": {}, "triton": {}}
    for batch in BATCHES:
        sample = texts if batch > 1 else texts[: len(texts) // 4]
        result["in_process"][str(batch)] = in_process(graph, sample, batch)
    server = EmbeddedTriton(
        repository, grpc_port=free_port(), metrics_port=free_port(), log_file=scratch / f"{graph.stem}.log"
    )
    with server:
        for batch in BATCHES:
            sample = texts if batch > 1 else texts[: len(texts) // 4]
            result["triton"][str(batch)] = through_triton(server.url, repository, sample, batch)
        result["triton"]["4x32"] = through_triton(server.url, repository, texts, 32, callers=4)
        result["memory"] = memory_mb(server)
    # The machine drifts by ±10 %: measure the in-process reference again after Triton and average the two.
    again = in_process(graph, texts, 32)
    result["in_process"]["32"] = round((result["in_process"]["32"] + again) / 2, 1)
    result["triton_vs_inprocess"] = round(result["triton"]["4x32"] / result["in_process"]["32"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=1024, help="posts per measurement (default 1024)")
    args = parser.parse_args()
    texts = posts(args.posts)
    tokens = [sum(e.attention_mask) for e in load_tokenizer().encode_batch(texts)]
    scratch = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    try:
        int8_repo = scratch / "int8"
        folder = build(int8_repo, cpu_precision="int8")
        fp32_repo = scratch / "fp32"
        write_repository(
            fp32_repo,
            onnx=folder / "1" / ONNX_FILE,
            tokenizer=folder / "1" / TOKENIZER_FILE,
            model_name="minilm-bundle@bench",
        )
        results = {
            precision: measure(repo, repo / MODEL / "1" / graph, texts, scratch)
            for precision, repo, graph in (
                ("fp32", fp32_repo, ONNX_FILE),
                ("int8", int8_repo, ONNX_INT8_FILE),
            )
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    # The worker's way (4 callers x batches of 32) against the same graph in-process at batch 32, for the
    # graph the CPU profiles serve by default.
    ratio = {p: r["triton_vs_inprocess"] for p, r in results.items()}
    data = {
        "posts": len(texts),
        "mean_tokens": round(sum(tokens) / len(tokens), 1),
        "cpu_precision": CPU_PRECISION,
        **results,
        "triton_vs_inprocess": ratio[CPU_PRECISION],
    }
    path = write_json("inference", data)

    rows = []
    for precision, r in results.items():
        for batch in BATCHES:
            rows.append([precision, batch, r["in_process"][str(batch)], r["triton"][str(batch)], ""])
        rows.append([precision, "4 x 32", "", r["triton"]["4x32"], ratio[precision]])
    header = [
        "precision",
        "batch",
        "in-process ORT posts/s",
        "Triton gRPC posts/s",
        "Triton ÷ in-process at 32",
    ]
    text = table(header, rows)
    memory = "; ".join(
        f"{p}: server {r['memory']['server_rss_mb']} MB, {r['memory']['stubs']} stubs {r['memory']['stubs_rss_mb']} MB"
        for p, r in results.items()
    )
    section = (
        f"## Inference (`make bench-inference`)\n\n{len(texts)} synthetic posts, {data['mean_tokens']} tokens on "
        f"average; embedded Triton (Python backend, 2 instances x 1 thread) against in-process ONNX Runtime "
        f"(2 threads), same run. Triton is called through the worker's asyncio client: one gRPC channel, each "
        f"batch sent as concurrent requests of {REQUEST_SIZE} texts of about one length (the blocking client "
        f"of earlier runs sent them one after another, from a thread per caller). The CPU profiles serve "
        f"{CPU_PRECISION}: `triton_vs_inprocess` = "
        f"{ratio[CPU_PRECISION]} (4 callers sending batches of 32, against in-process at batch 32).\n\n"
        f"{text}\n\nTriton memory (RSS): {memory}.\n"
    )
    update_section("inference", section)
    print(text)
    print(f"\n{memory}\ntriton_vs_inprocess ({CPU_PRECISION}): {ratio[CPU_PRECISION]}  -> {path}")


if __name__ == "__main__":
    main()
