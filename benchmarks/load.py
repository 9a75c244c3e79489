"""``python -m benchmarks.load``: the API under load, with the whole platform running, on 1,000,000 posts.

Run ``python -m benchmarks.seed`` first. The platform starts as ``make run`` starts it
(``python -m services.launcher``: Triton, ``--workers`` workers, the API, the synthetic ingester at
``--feed`` posts/s, or with ``--feed-source bluesky`` the Bluesky source reading a local Jetstream at that
rate) on the ``sentiment_bench`` database, on ports of its own and a Redis key prefix of its
own. Then locust, headless (``benchmarks/locustfile.py``):

1. the read mix (``Reader``: a dashboard's requests, each user waiting 1 s) with ``--users`` users for
   ``--seconds``; targets p95 <= 50 ms and p99 <= 150 ms for every read (searches, a topic's authors and
   hashtags: p95 <= 100 ms), no failures;
2. a topic made through the API while the read mix runs again for ``--backfill-seconds``: how long its
   backfill over the stored posts takes (target <= 60 s on 1,000,000 posts), and the reads meanwhile
   (then, the readers gone, the topic is deleted: the next run finds the database as seeded);
3. the ingest mix (``Ingester``: POST /api/ingest, 1,000 posts a request) with ``--ingest-users`` users
   for ``--ingest-seconds``; target >= 2,000 posts/s accepted.

Prints the tables, writes benchmarks/results/load.json and its section of RESULTS.md.
"""

import argparse
import asyncio
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import SEARCHES, bench_database_url, forget_since, settle, stored_since
from services.common.settings import Settings
from tests.support import free_port, start_platform

ROOT = Path(__file__).resolve().parent.parent
LOCUST = str(Path(sys.executable).with_name("locust"))
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
# py-spy's innermost Python frame while uvloop waits (or runs in C): the event loop counted as idle.
IDLE = "Runner.run (asyncio/runners.py"


# Reads whose target is p95 <= 100 ms, with no p99 target: a search and a topic's authors and hashtags read
# posts, not a rollup. The rest: p95 <= 50, p99 <= 150.
SLOWER = {
    *(f"/api/posts [search {share}]" for share in SEARCHES),
    "/api/topics/{id}/authors",
    "/api/topics/{id}/hashtags",
}


def p95_target(name: str) -> float:
    return 100 if name in SLOWER else 50


# The topic the backfill phase makes: as broad as the seed's broadest (about 14 % of the posts).
BACKFILLED = {
    "name": "Backfilled under load",
    "query": "#PhoneLaunch or phone or battery or camera or keynote",
}


def backfill(host: str, admin_token: str, found: dict[str, Any], timeout_s: float = 300) -> None:
    """Make BACKFILLED and time its backfill until the API says it is done; into ``found``, with its id."""
    with httpx.Client(
        base_url=host, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
    ) as client:
        made = client.post("/api/topics", json=BACKFILLED)
        made.raise_for_status()
        found["topic"] = topic = made.json()["id"]
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if client.get(f"/api/topics/{topic}").json()["backfill"]["state"] == "done":
                found["seconds"] = round(time.monotonic() - started, 1)
                break
            time.sleep(0.25)
        share = client.get("/api/topics/share", params={"hours": 168}).json()
        found["tagged_last_7_days"] = next(t["posts"] for t in share["topics"] if t["id"] == topic)


def forget_topic(host: str, admin_token: str, topic: int) -> None:
    """Delete the topic (after the readers that may follow it are gone: they would meet its 404)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    httpx.delete(f"{host}/api/topics/{topic}", headers=headers, timeout=60).raise_for_status()


@contextmanager
def platform(env: dict[str, str], workers: int) -> Iterator[psutil.Process]:
    """The platform as ``make run`` starts it, until the block ends (then Ctrl-C); yields the launcher."""
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    process = start_platform(folder, env, workers)
    try:
        yield psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
        client = redis.Redis.from_url(env.get("REDIS_URL", Settings().redis_url))
        for key in client.scan_iter(f"{env['REDIS_KEY_PREFIX']}*"):  # the backlog the ingest mix left
            client.delete(key)
        client.close()


def profiler(launcher: psutil.Process, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the API process for ``seconds``, its stacks (folded) written to ``out``."""
    api = next(p for p in launcher.children(recursive=True) if "services.backend" in p.cmdline())
    return subprocess.Popen(  # noqa: S603 - py-spy from this environment
        [
            PY_SPY,
            "record",
            "--nonblocking",
            "-p",
            str(api.pid),
            "-d",
            str(seconds),
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def hottest(folded: Path, top: int = 15) -> str:
    """Where the API's event loop spent its busy samples, from py-spy's output (the other threads, idle in a
    pool, are left out): the share of each package in the innermost frame, then the top functions."""
    total, packages, functions = 0, Counter[str](), Counter[str]()
    for line in folded.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        if stack.startswith("Thread._bootstrap") or stack.split(";")[-1].startswith(IDLE):
            continue
        total += int(count)
        leaf = re.sub(r":\d+\)$", ")", stack.split(";")[-1])
        functions[leaf] += int(count)
        where = re.search(r"\((.*)\)$", leaf)
        packages[where.group(1).split("/")[0] if where else "?"] += int(count)

    def shares(counter: Counter[str]) -> str:
        return "\n".join(f"{100 * n / total:5.1f} %  {name}" for name, n in counter.most_common(top))

    return f"{total} busy samples; by package:\n{shares(packages)}\nby function:\n{shares(functions)}"


def locust(
    user: str, host: str, users: int, seconds: int, env: dict[str, str], out: Path, nice: int = 0
) -> list[dict[str, str]]:
    """Run one locust user class headless, ``nice`` added to its niceness; its per-request rows (the last one
    is the aggregate)."""
    prefix = out / f"{user}-{users}"
    subprocess.run(  # noqa: S603 - locust from this environment
        [
            LOCUST,
            "-f",
            str(ROOT / "benchmarks" / "locustfile.py"),
            user,
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 5)),
            "--run-time",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        timeout=seconds + 120,
        preexec_fn=partial(os.nice, nice) if nice else None,
    )
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as stats:
        return list(csv.DictReader(stats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--backfill-seconds", type=int, default=30, help="the read mix while a topic backfills"
    )
    parser.add_argument("--ingest-users", type=int, default=4)
    parser.add_argument("--ingest-seconds", type=int, default=20)
    parser.add_argument("--feed", type=float, default=100, help="the synthetic ingester's posts/s meanwhile")
    parser.add_argument(
        "--feed-source",
        choices=("synthetic", "bluesky"),
        default="synthetic",
        help="what feeds the platform meanwhile: the synthetic ingester, or the bluesky source reading a local "
        "Jetstream (tests/fakes/jetstream.py) at --feed frames/s; bluesky writes results/load_bluesky.json",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    parser.add_argument(
        "--curve",
        default="10,50,100,200,400,600",
        help="user counts for the latency-against-load curve, each run --curve-seconds ('' : none)",
    )
    parser.add_argument("--curve-seconds", type=int, default=20)
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="added to locust's niceness (negative, as root: its clock less delayed by the platform it shares cores with)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy the API during the reads; its stacks to this file, the top printed",
    )
    args = parser.parse_args()

    api_port = free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url or bench_database_url(),
        "REDIS_KEY_PREFIX": f"bench:load:{token[:6]}:",
        "BACKEND_PORT": str(api_port),
        "DASHBOARD_PORT": str(free_port()),
        "TRITON_URL": f"127.0.0.1:{free_port()}",
        "WORKER_METRICS_PORT": str(free_port()),
        "INGEST_RATE": str(args.feed),
        "INGEST_TOKEN": token,
        "ADMIN_TOKEN": token,
        "LOG_LEVEL": "WARNING",
    }
    jetstream = None
    if args.feed_source == "bluesky":
        port = free_port()
        jetstream = subprocess.Popen(  # noqa: S603 - the fake Jetstream from this checkout
            [sys.executable, "-m", "tests.fakes.jetstream", "--port", str(port), "--rate", str(args.feed)]
        )
        env |= {
            "INGEST_SOURCES": "bluesky",
            "BLUESKY_JETSTREAM_URLS": f"ws://127.0.0.1:{port}/subscribe",
            "INGEST_METRICS_PORT": str(free_port()),
        }
    host = f"http://127.0.0.1:{api_port}"
    asyncio.run(settle(env["DATABASE_URL"]))
    started = datetime.now(UTC)
    out = Path(tempfile.mkdtemp(prefix="locust-"))
    with platform(env, args.workers) as launcher:
        spy = profiler(launcher, args.seconds, args.profile) if args.profile else None
        reads = locust("Reader", host, args.users, args.seconds, env, out, args.client_nice)
        if spy:
            spy.wait()
        backfilled: dict[str, Any] = {}
        making = threading.Thread(target=backfill, args=(host, token, backfilled))
        making.start()
        during = locust("Reader", host, args.users, args.backfill_seconds, env, out)[-1]
        making.join()
        if "topic" in backfilled:
            forget_topic(host, token, backfilled.pop("topic"))
        steps = [int(n) for n in args.curve.split(",") if n]
        curve = [locust("Reader", host, n, args.curve_seconds, env, out)[-1] for n in steps]
        ingest = locust("Ingester", host, args.ingest_users, args.ingest_seconds, env, out)
    shutil.rmtree(out, ignore_errors=True)
    if jetstream:
        jetstream.terminate()
        jetstream.wait(10)
    # The feed's and the ingest mix's posts go: the next run must find the table as seeded (the ingest mix
    # alone adds tens of thousands of alike posts to the last hour, which the filtered pages would wade through).
    fed = asyncio.run(stored_since(env["DATABASE_URL"], started))
    print(f"stored meanwhile, by source: {fed}")
    removed = asyncio.run(forget_since(env["DATABASE_URL"], started))
    print(f"removed the {removed:,} posts this run added")

    def ms(row: dict[str, str], column: str) -> float:
        return float(row[column] or 0)

    found_curve = [
        {
            "users": n,
            "rps": round(ms(row, "Requests/s"), 1),
            "p50_ms": ms(row, "50%"),
            "p95_ms": ms(row, "95%"),
            "p99_ms": ms(row, "99%"),
            "failures": int(row["Failure Count"]),
        }
        for n, row in zip(steps, curve, strict=True)
    ]

    read_rows: list[tuple[Any, ...]] = []
    found: dict[str, Any] = {"reads": {}, "ingest": {}, "curve": found_curve, "stored_by_source": fed}
    found["backfill"] = backfilled | {
        "reads_meanwhile": {
            "p50_ms": ms(during, "50%"),
            "p95_ms": ms(during, "95%"),
            "p99_ms": ms(during, "99%"),
        },
        "failures_meanwhile": int(during["Failure Count"]),
    }
    for row in reads:
        name = "all reads" if row["Name"] == "Aggregated" else row["Name"]
        p95, p99 = ms(row, "95%"), ms(row, "99%")
        ok = p95 <= p95_target(name) and (p99 <= 150 or name in SLOWER) and row["Failure Count"] == "0"
        found["reads"][name] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "p50_ms": ms(row, "50%"),
            "p95_ms": p95,
            "p99_ms": p99,
            "rps": round(ms(row, "Requests/s"), 1),
        }
        read_rows.append(
            (
                name,
                row["Request Count"],
                row["Failure Count"],
                ms(row, "50%"),
                p95,
                p99,
                "yes" if ok else "no",
            )
        )
    sent = next(row for row in ingest if row["Name"] == "/api/ingest [1,000 posts]")
    deferred = next((int(r["Request Count"]) for r in ingest if "429" in r["Name"]), 0)
    accepted = (int(sent["Request Count"]) - int(sent["Failure Count"])) * 1000 / args.ingest_seconds
    found["ingest"] = {
        "requests": int(sent["Request Count"]),
        "failures": int(sent["Failure Count"]),
        "told_to_retry_429": deferred,
        "posts_per_s_accepted": round(accepted),
        "p50_ms": ms(sent, "50%"),
        "p95_ms": ms(sent, "95%"),
    }
    markdown = (
        table(
            [
                f"read ({args.users} users, {args.seconds} s, {args.feed_source} feed {args.feed:.0f}/s)",
                "requests",
                "failures",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p95 <= 50 (search, authors, hashtags: 100), p99 <= 150",
            ],
            read_rows,
        )
        + "\n\n"
        + table(
            [
                f"a new topic's backfill, {args.users} users reading meanwhile ({args.backfill_seconds} s)",
                "measured",
                "target",
            ],
            [
                ("seconds to done", str(backfilled.get("seconds", "not done")), "<= 60"),
                ("its posts of the last 7 days", f"{backfilled.get('tagged_last_7_days', 0):,}", ""),
                (
                    "all reads meanwhile: p50 / p95 / p99 ms (failures)",
                    f"{ms(during, '50%'):.0f} / {ms(during, '95%'):.0f} / {ms(during, '99%'):.0f}"
                    f" ({during['Failure Count']})",
                    "p95 <= 50, p99 <= 150",
                ),
            ],
        )
        + "\n\n"
        + table(
            ["ingest (POST /api/ingest, 1,000 posts a request)", "measured", "target"],
            [
                ("posts/s accepted", f"{accepted:,.0f}", ">= 2,000"),
                (
                    "requests (failures)",
                    f"{sent['Request Count']} ({sent['Failure Count']})",
                    "no failures",
                ),
                ("told to retry later (429: the backlog at its limit)", str(deferred), ""),
                ("p50 / p95 ms a request", f"{ms(sent, '50%'):.0f} / {ms(sent, '95%'):.0f}", ""),
            ],
        )
    )
    if found_curve:
        markdown += "\n\n" + table(
            [f"users ({args.curve_seconds} s each, all reads)", "requests/s", "p50 ms", "p95 ms", "p99 ms"],
            [(c["users"], c["rps"], c["p50_ms"], c["p95_ms"], c["p99_ms"]) for c in found_curve],
        )
    if args.feed_source != "synthetic":
        markdown += (
            f"\n\nPosts the {args.feed_source} source stored meanwhile: {fed.get(args.feed_source, 0):,} "
            f"(the ingest mix's: {sum(n for s, n in fed.items() if s != args.feed_source):,})."
        )
    print(markdown)
    if args.profile:
        print(f"\nWhere the API spent its time during the reads ({args.profile}):\n{hottest(args.profile)}")
    name = "load" if args.feed_source == "synthetic" else f"load_{args.feed_source}"
    write_json(name, {**vars(args), "profile": str(args.profile or ""), **found})
    if args.feed_source == "synthetic":
        heading = "### The API under load (locust), the whole platform running, 1,000,000 posts\n\n"
        command = "`python -m benchmarks.seed && python -m benchmarks.load`\n\n"
    else:
        heading = f"### The API under load with the {args.feed_source} source feeding it (a local server)\n\n"
        command = f"`python -m benchmarks.load --feed-source {args.feed_source}`\n\n"
    update_section(name.replace("_", "-"), heading + command + markdown)


if __name__ == "__main__":
    main()
