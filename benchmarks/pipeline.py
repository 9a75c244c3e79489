"""The pipeline under load: sustained posts/s from XADD to committed rows and published events, against the
in-process ceiling and a naive worker; latency at half that rate; worker memory.

    .venv/bin/python -m benchmarks.pipeline [--posts 4000]     (make bench-pipeline; about 2 minutes here)

Everything runs on this machine: PostgreSQL and Redis (a database and a key prefix of the run's own,
removed after), the embedded Triton serving `model_repository/` (`make model`), and the workers as
`make run` starts them (`python -m services.worker` processes).

- ceiling: in-process ONNX Runtime on the same texts, at the best of batch 1, 8, 32 and 64, the texts in
  arrival order or all sorted by length (the least padding there can be);
- sustained: a worker started and warmed up, then N synthetic posts XADDed in one pipelined burst (much
  faster than they are processed: the worker faces a full stream); the clock runs from the first XADD to
  the last post's event (every post committed and published), for one worker with one batch in flight and
  with WORKER_CONCURRENCY (reading, inference and writing overlapped);
- naive: one message at a time: one inference call, one insert and commit, one publish, one ack;
- latency: posts sent at half the sustained rate for 20 s; from XADD (the entry id's time) to the event
  arriving on the channel, p50 and p99;
- memory: the largest RSS of a worker process during the sustained run;
- topics: ``--topics`` topics (100 by default, benchmarks/seed.py's twenty, each also narrowed by one word
  it must not have) are made before, so every batch is tagged as a platform watching that many tags it.

Writes benchmarks/results/pipeline.json and a section of RESULTS.md.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import redis.asyncio as aioredis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from benchmarks.inference import free_port, in_process
from benchmarks.report import table, update_section, write_json
from benchmarks.seed import TOPICS
from services.common.db.engine import create_engine, session_factory
from services.common.db.migrate import drop_database, upgrade, wait_for_database
from services.common.db.models import PostTopic, SentimentAnalysis, SocialMediaPost
from services.common.events import PostEvent, parse_event
from services.common.inference.spec import MODEL
from services.common.inference.tokenizer import load_tokenizer
from services.common.inference.triton_client import TritonClassifier
from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings, load_settings
from services.ingester.producer import Pacer, Producer
from services.ingester.synthetic import Generator
from services.launcher.tritonserver import EmbeddedTriton
from services.worker.batch import analysed, event_of
from services.worker.store import write
from services.worker.stream import Entry

REPOSITORY = Path("model_repository")
BATCHES = (1, 8, 32, 64)
WARM_UP = 128


@dataclass
class Bench:
    settings: Settings
    names: RedisNames
    redis: aioredis.Redis
    posts: list[PostMessage]


def texts_tokens(posts: list[PostMessage]) -> float:
    manifest = json.loads((REPOSITORY / MODEL / "1" / "manifest.json").read_text())
    tokenizer = load_tokenizer(REPOSITORY / MODEL / "1" / "tokenizer.json", manifest["tokenizer_sha256"])
    lengths = [sum(e.attention_mask) for e in tokenizer.encode_batch([p.content for p in posts])]
    return round(float(np.mean(lengths)), 1)


def ceiling(posts: list[PostMessage]) -> tuple[float, str]:
    """In-process ONNX Runtime (2 threads) on the served graph: the best posts/s over batch sizes, with the
    texts in arrival order or all sorted by length (the least padding there can be), and how it was got."""
    manifest = json.loads((REPOSITORY / MODEL / "1" / "manifest.json").read_text())
    graph = REPOSITORY / MODEL / "1" / manifest["graphs"]["embedded"]
    texts = [p.content for p in posts]
    orders = {"in arrival order": texts, "sorted by length": sorted(texts, key=len)}
    trial = {
        (order, batch): in_process(graph, ordered[:512], batch)
        for order, ordered in orders.items()
        for batch in BATCHES
    }
    order, batch = max(trial, key=lambda key: trial[key])
    return in_process(graph, orders[order], batch), f"batch {batch}, {order}"


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("database_url", "redis_url", "redis_key_prefix", "triton_url", "model_repository"):
        env[name.upper()] = str(getattr(settings, name))
    return env | {"WORKER_METRICS_PORT": "0"} | extra


async def count_rows(settings: Settings, model: type[Any] = SentimentAnalysis) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def reset(bench: Bench) -> None:
    await bench.redis.delete(bench.names.stream, bench.names.dead_letter_stream, bench.names.failures)
    engine = create_engine(bench.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(SocialMediaPost.__table__.delete())  # type: ignore[attr-defined]
    await engine.dispose()


NOT = ("rumour", "refund", "giveaway", "spoiler")


def bench_topics(count: int) -> list[tuple[str, str]]:
    """``count`` topics: the seed's twenty, then each again without a word, and so on."""
    made = []
    for i in range(count):
        name, query = TOPICS[i % len(TOPICS)]
        variant = i // len(TOPICS)
        made.append(
            (f"{name} {variant}", f"{query} -{NOT[(variant - 1) % len(NOT)]}") if variant else (name, query)
        )
    return made


async def make_bench_topics(settings: Settings, count: int) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            for name, query in bench_topics(count):
                await conn.execute(
                    text("INSERT INTO topics (name, query, backfilled) VALUES (:n, :q, 1)"),
                    {"n": name, "q": query},
                )
    finally:
        await engine.dispose()


async def fill(bench: Bench, posts: list[PostMessage]) -> None:
    producer = Producer(bench.redis, bench.names, max_backlog=10**9, batch=500)
    for post in posts:
        await producer.send(post)
    await producer.flush()


@asynccontextmanager
async def listening(bench: Bench, arrived: dict[str, float]):  # type: ignore[no-untyped-def]
    """Records when each post's event arrives on the channel."""
    pubsub = bench.redis.pubsub()
    await pubsub.subscribe(bench.names.channel)

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                event = parse_event(message["data"])
                if isinstance(event, PostEvent):
                    arrived.setdefault(event.data.post_id, time.time())

    task = asyncio.create_task(listen())
    try:
        yield
    finally:
        task.cancel()
        await pubsub.aclose()


async def sustained(bench: Bench, workers: int, concurrency: int) -> dict[str, float]:
    """Workers started and warmed up (connected, model loaded: WARM_UP posts through), then the N posts
    XADDed in one pipelined burst, far faster than they are processed, so the workers face a full stream;
    the clock runs from the burst's first XADD to the last post's event."""
    await reset(bench)
    warm_up = Generator(seed=3, run_id=uuid.uuid4().hex[:6])
    warm = [warm_up.next().post for _ in range(WARM_UP)]
    arrived: dict[str, float] = {}
    peak = 0.0
    async with listening(bench, arrived):
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.worker",
                env=worker_env(
                    bench.settings, WORKER_CONCURRENCY=str(concurrency), WORKER_CONSUMER=f"bench{i}"
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(workers)
        ]
        try:
            await fill(bench, warm)
            await _until(lambda: len(arrived) >= WARM_UP, "the warm-up posts")
            started = time.time()
            await fill(bench, bench.posts)
            filled = time.time() - started

            def done() -> bool:
                nonlocal peak
                peak = max(peak, max(psutil.Process(p.pid).memory_info().rss for p in procs) / 2**20)
                return len(arrived) >= WARM_UP + len(bench.posts)

            await _until(done, "every post")
            seconds = max(arrived.values()) - started
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                await asyncio.wait_for(p.wait(), 30)
    assert await count_rows(bench.settings) == WARM_UP + len(bench.posts)
    return {
        "posts_per_s": round(len(bench.posts) / seconds, 1),
        "worker_rss_mb": round(peak, 1),
        "fill_s": round(filled, 2),
    }


async def _until(check: Callable[[], bool], what: str, timeout_s: float = 600) -> None:
    deadline = time.time() + timeout_s
    while not check():
        if time.time() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        await asyncio.sleep(0.1)


async def naive(bench: Bench, seconds: float = 30.0) -> float:
    """One message at a time, each step on its own: the baseline the batching worker must beat."""
    await reset(bench)
    await fill(bench, bench.posts)
    await bench.redis.xgroup_create(bench.names.stream, bench.names.group, id="0")
    classifier = TritonClassifier(bench.settings.triton_url, REPOSITORY)
    engine = create_engine(bench.settings.database_url)
    sessions = session_factory(engine)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds and done < len(bench.posts):
        reply: Any = await bench.redis.xreadgroup(
            bench.names.group, "naive", {bench.names.stream: ">"}, count=1
        )
        [[_, [(entry_id, fields)]]] = reply
        entry = Entry(entry_id.decode(), fields)
        post = PostMessage.from_stream(fields)
        result = await classifier.classify([post.content])
        [row] = analysed([(entry, post)], result.predictions, datetime.now(UTC))
        async with sessions() as session:
            await write(session, [row])
        await bench.redis.publish(bench.names.channel, PostEvent(data=event_of(row)).model_dump_json())
        await bench.redis.xack(bench.names.stream, bench.names.group, entry.id)
        done += 1
    elapsed = time.perf_counter() - started
    await classifier.close()
    await engine.dispose()
    return round(done / elapsed, 1)


async def latency(bench: Bench, rate: float, concurrency: int, seconds: float = 20.0) -> dict[str, float]:
    await reset(bench)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    generator = Generator(seed=11, run_id=uuid.uuid4().hex[:6])
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.worker",
        env=worker_env(bench.settings, WORKER_CONCURRENCY=str(concurrency), WORKER_CONSUMER="latency"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(3)  # connected and reading
        async with listening(bench, arrived):
            pacer = Pacer(rate, jitter=0.3, seed=1)
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                await pacer.wait()
                post = generator.next().post
                entry_id: Any = await bench.redis.xadd(bench.names.stream, post.to_stream())  # type: ignore[arg-type]
                sent[post.post_id] = Entry(entry_id.decode(), {}).ingested_at.timestamp()
            deadline = time.time() + 30
            while len(arrived) < len(sent) and time.time() < deadline:  # noqa: ASYNC110 - filled by the listener
                await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)
    delays = np.array([(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived])
    return {
        "latency_posts": len(sent),
        "latency_lost": len(sent) - len(delays),
        "latency_p50_ms": round(float(np.percentile(delays, 50)), 1),
        "latency_p99_ms": round(float(np.percentile(delays, 99)), 1),
    }


async def main_async(n: int, topics: int) -> dict[str, Any]:
    base = load_settings()
    run_id = uuid.uuid4().hex[:8]
    database = make_url(base.database_url).set(database=f"sentiment_bench_{run_id}")
    grpc = free_port()
    settings = base.model_copy(
        update={
            "database_url": database.render_as_string(hide_password=False),
            "redis_key_prefix": f"bench:{run_id}:",
            "triton_url": f"127.0.0.1:{grpc}",
            "model_repository": REPOSITORY,
        }
    )
    await wait_for_database(settings.database_url, timeout_s=30)
    await asyncio.to_thread(upgrade, settings.database_url)
    await make_bench_topics(settings, topics)  # none to backfill: the database is empty
    generator = Generator(seed=7, run_id=run_id)
    posts = [generator.next().post for _ in range(n)]
    bench = Bench(
        settings, RedisNames(settings.redis_key_prefix), aioredis.Redis.from_url(settings.redis_url), posts
    )
    result: dict[str, Any] = {"posts": n, "mean_tokens": texts_tokens(posts), "topics": topics}
    server = EmbeddedTriton(
        REPOSITORY,
        grpc_port=grpc,
        metrics_port=free_port(),
        log_file=Path(tempfile.gettempdir()) / f"bench-triton-{run_id}.log",
    )
    try:
        result["ceiling_posts_per_s"], result["ceiling_batch"] = ceiling(posts)
        print(f"ceiling: {result['ceiling_posts_per_s']} posts/s at {result['ceiling_batch']}", flush=True)
        with server:
            one = await sustained(bench, workers=1, concurrency=1)
            print(f"sustained, 1 batch in flight: {one}", flush=True)
            best = await sustained(bench, workers=1, concurrency=base.worker_concurrency)
            print(f"sustained, {base.worker_concurrency} batches in flight: {best}", flush=True)
            tags = await count_rows(settings, PostTopic)
            result["tags_per_post"] = round(tags / max(await count_rows(settings), 1), 2)
            result["naive_posts_per_s"] = await naive(bench)
            print(f"naive: {result['naive_posts_per_s']} posts/s", flush=True)
            result |= await latency(bench, best["posts_per_s"] / 2, base.worker_concurrency)
    finally:
        await bench.redis.aclose()
        await drop_database(settings.database_url)
        await _drop_keys(settings)
    result["sequential_posts_per_s"] = one["posts_per_s"]
    result["posts_per_s"] = best["posts_per_s"]
    result["worker_rss_mb"] = max(one["worker_rss_mb"], best["worker_rss_mb"])
    result["worker_concurrency"] = base.worker_concurrency
    result["worker_batch"] = f"batch {base.worker_batch_size}, {base.triton_request_size} a request"
    result["vs_ceiling"] = round(result["posts_per_s"] / result["ceiling_posts_per_s"], 3)
    result["vs_naive"] = round(result["posts_per_s"] / result["naive_posts_per_s"], 2)
    return result


async def _drop_keys(settings: Settings) -> None:
    client = aioredis.Redis.from_url(settings.redis_url)
    async for key in client.scan_iter(match=f"{settings.redis_key_prefix}*"):
        await client.delete(key)
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=4000, help="posts per sustained run (default 4000)")
    parser.add_argument(
        "--topics", type=int, default=100, help="topics every post is matched with (default 100)"
    )
    args = parser.parse_args()
    r = asyncio.run(main_async(args.posts, args.topics))
    path = write_json("pipeline", r)
    rows = [
        ["in-process ONNX Runtime (ceiling)", r["ceiling_batch"], r["ceiling_posts_per_s"], ""],
        ["worker, 1 batch in flight", r["worker_batch"], r["sequential_posts_per_s"], ""],
        [
            f"worker, {r['worker_concurrency']} batches in flight (default)",
            r["worker_batch"],
            r["posts_per_s"],
            "target ≥ 0.9 x ceiling",
        ],
        ["naive worker (one message at a time)", "1", r["naive_posts_per_s"], "target: worker ≥ 3 x"],
    ]
    text = table(["what", "batch", "posts/s", ""], rows)
    summary = (
        f"Worker ÷ ceiling = **{r['vs_ceiling']}**, worker ÷ naive = **{r['vs_naive']}**. Latency from XADD to "
        f"the event at half the sustained rate ({r['latency_posts']} posts over 20 s): p50 "
        f"**{r['latency_p50_ms']} ms**, p99 **{r['latency_p99_ms']} ms** (target ≤ 1 s). Worker RSS at most "
        f"**{r['worker_rss_mb']} MB** (target ≤ 400). Each post matched {r['tags_per_post']} of the "
        f"{r['topics']} topics on average."
    )
    update_section(
        "pipeline",
        f"## Pipeline (`make bench-pipeline`)\n\n{r['posts']} synthetic posts ({r['mean_tokens']} tokens on "
        f"average) XADDed in one burst to a warmed-up worker process, against the embedded Triton, PostgreSQL "
        f"and Redis on the same 2 cores, with {r['topics']} topics to tag each post with; the clock runs from "
        f"the first XADD to the last post's event. The "
        f"ceiling is in-process ONNX Runtime on the same texts at its best batch size and order.\n\n{text}\n\n{summary}\n",
    )
    print(text)
    print(summary, f"-> {path}", sep="\n")


if __name__ == "__main__":
    main()
