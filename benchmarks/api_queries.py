"""``python -m benchmarks.api_queries``: each read endpoint's time on a large table, one request at a time.

Run ``python -m benchmarks.seed`` first (1,000,000 posts over 7 days into ``sentiment_bench``, with its 20
topics). The app runs
in this process (httpx's ASGI transport: no network, no uvicorn) with the answer caches off, so every
request reaches PostgreSQL; each request is made ``--repeat`` times after one warm-up. This is the query
cost the load test (``python -m benchmarks.load``) builds on, not a load test.
"""

import argparse
import asyncio
import statistics
import time
from datetime import timedelta
from typing import Any

import httpx

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import SEARCHES, bench_database_url, topic_id
from services.backend.app import create_app
from services.common.settings import load_settings
from services.common.timestamps import format_utc, utcnow

BROAD, NARROW = topic_id("Phone launch"), topic_id("Phone batteries")
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("posts, first page", "/api/posts", {"limit": 50}),
    ("posts, source + sentiment", "/api/posts", {"limit": 50, "source": "reddit", "sentiment": "negative"}),
    ("posts, deep offset", "/api/posts", {"limit": 50, "offset": 5000}),
    ("posts, rare emotion", "/api/posts", {"limit": 50, "emotion": "disgust", "source": "threads"}),
    ("aggregate, minute, last 24 h", "/api/sentiment/aggregate", {"period": "minute"}),
    ("aggregate, hour, last 24 h", "/api/sentiment/aggregate", {"period": "hour"}),
    ("aggregate, day, 7 days", "/api/sentiment/aggregate", {"period": "day", "days": 7}),
    ("distribution, 24 h", "/api/sentiment/distribution", {"hours": 24}),
    ("distribution, 168 h", "/api/sentiment/distribution", {"hours": 168}),
    ("emotions, hour, last 24 h", "/api/sentiment/emotions", {"period": "hour"}),
    ("alerts", "/api/alerts", {}),
    # Narrowed to a topic of 14 % of the posts (BROAD) and one of 1 % (NARROW), searched, compared.
    ("topic posts, first page", "/api/posts", {"limit": 50, "topic": BROAD}),
    ("narrow topic posts, first page", "/api/posts", {"limit": 50, "topic": NARROW}),
    ("topic aggregate, minute, 24 h", "/api/sentiment/aggregate", {"period": "minute", "topic": BROAD}),
    ("topic aggregate, hour, 24 h", "/api/sentiment/aggregate", {"period": "hour", "topic": BROAD}),
    (
        "topic aggregate, day, 7 days",
        "/api/sentiment/aggregate",
        {"period": "day", "days": 7, "topic": BROAD},
    ),
    ("topic distribution, 24 h", "/api/sentiment/distribution", {"hours": 24, "topic": BROAD}),
    ("share of voice, 24 h", "/api/topics/share", {"hours": 24}),
    ("topic authors, 24 h", f"/api/topics/{BROAD}/authors", {}),
    ("topic hashtags, 24 h", f"/api/topics/{BROAD}/hashtags", {}),
    ("topic hashtags, 168 h", f"/api/topics/{BROAD}/hashtags", {"hours": 168}),
    *((f"search, {share}", "/api/posts", {"limit": 50, "q": q}) for share, q in SEARCHES.items()),
    ("health", "/api/health", {}),
]


async def measure(database_url: str, repeat: int) -> list[dict[str, Any]]:
    settings = load_settings().model_copy(
        update={"database_url": database_url, "cache_ttl_s": 0, "feed_cache_ttl_s": 0}
    )
    app = create_app(settings)
    found = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=60) as client:
            for name, path, asked in REQUESTS:
                params = dict(asked)
                if params.pop("days", None):
                    params["start_date"] = format_utc(utcnow().replace(microsecond=0) - timedelta(days=7))
                times = []
                for i in range(repeat + 1):
                    started = time.perf_counter()
                    response = await client.get(path, params=params)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:  # an error's time is no query's
                        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
                    if i:
                        times.append(elapsed)
                times.sort()
                found.append(
                    {
                        "request": name,
                        "path": path,
                        "params": params,
                        "p50_ms": round(statistics.median(times), 1),
                        "max_ms": round(times[-1], 1),
                    }
                )
                print(
                    f"{name:32} p50 {found[-1]['p50_ms']:8.1f} ms  max {found[-1]['max_ms']:8.1f} ms",
                    flush=True,
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    parser.add_argument("--label", default="", help="a name for this run in RESULTS.md (e.g. before/after)")
    args = parser.parse_args()
    found = asyncio.run(measure(args.database_url or bench_database_url(), args.repeat))
    rows = [(f["request"], f["p50_ms"], f["max_ms"]) for f in found]
    markdown = table(["request (1,000,000 posts, cache off)", "p50 ms", "max ms"], rows)
    print(markdown)
    name = "api_queries" + (f"_{args.label}" if args.label else "")
    write_json(name, {"repeat": args.repeat, "requests": found})
    update_section(
        name,
        f"### API queries on 1,000,000 posts{f' ({args.label})' if args.label else ''}\n\n"
        "`python -m benchmarks.seed && python -m benchmarks.api_queries`\n\n" + markdown,
    )


if __name__ == "__main__":
    main()
