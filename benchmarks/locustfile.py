"""Locust users for ``python -m benchmarks.load`` (or ``locust -f benchmarks/locustfile.py`` by hand).

- ``Reader``: what a dashboard asks for, each user waiting 1 s between requests: post pages with and without
  filters and a cursor, the aggregate at each period, the distribution, the emotions, the alerts, the health;
  and with the seed's topics (``benchmarks/seed.py``), the same narrowed to a topic, share of voice, a topic's
  authors and hashtags, and searches for words in about 0.1, 1 and 10 % of the posts and a phrase.
- ``Ingester``: POST /api/ingest with 1,000 posts a request, as fast as answers come (INGEST_TOKEN from the
  environment).

Each request is named by what it asks (``/api/posts [source+sentiment]``), so the statistics are per kind.
"""

import itertools
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, task

# The seed's search terms, however locust was started (it puts this file's folder on the path, not the root).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.seed import SEARCHES

# The synthetic feed's labels (services/ingester/synthetic.py), which the seed gives its posts: locust loads
# this file on its own, so they are written out here.
SOURCES = [
    "synthetic-twitter",
    "synthetic-reddit",
    "synthetic-mastodon",
    "synthetic-bluesky",
    "synthetic-threads",
]
SENTIMENTS = ["positive", "negative", "neutral"]
EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def minutes_ago(minutes: float) -> str:
    """On a whole minute, as the dashboard asks (so viewers share the API's cache)."""
    return iso((datetime.now(UTC) - timedelta(minutes=minutes)).replace(second=0, microsecond=0))


class Reader(HttpUser):
    """One viewer. Locust starts users in groups (the spawn rate each second) and ``constant(1)`` keeps each
    group in step for the whole run: every group's requests would land in the same few milliseconds every
    second, which independent viewers never do. Each user first waits a random part of a second, so the
    users' seconds start at independent moments."""

    wait_time = constant(1)

    def on_start(self) -> None:
        time.sleep(random.random())  # gevent's sleep under locust
        listed = self.get("/api/topics", "/api/topics")
        self.topics = [t["id"] for t in listed["topics"]] if listed else []

    def get(self, path: str, name: str, **params: Any) -> Any:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            return response.json()

    @task(4)
    def newest_posts(self) -> None:
        page = self.get("/api/posts", "/api/posts", limit=50)
        if page and page["posts"]:
            self.get("/api/posts", "/api/posts [before]", limit=50, before=page["posts"][-1]["post_id"])

    @task(2)
    def filtered_posts(self) -> None:
        self.get(
            "/api/posts",
            "/api/posts [source+sentiment]",
            limit=50,
            source=random.choice(SOURCES),
            sentiment=random.choice(SENTIMENTS),
        )

    @task(1)
    def posts_by_emotion(self) -> None:
        self.get("/api/posts", "/api/posts [emotion]", limit=50, emotion=random.choice(EMOTIONS))

    @task(2)
    def aggregate_minute(self) -> None:
        self.get(
            "/api/sentiment/aggregate",
            "/api/sentiment/aggregate [minute, 1 h]",
            period="minute",
            start_date=minutes_ago(60),
        )

    @task(2)
    def aggregate_hour(self) -> None:
        self.get("/api/sentiment/aggregate", "/api/sentiment/aggregate [hour, 24 h]", period="hour")

    @task(1)
    def aggregate_day(self) -> None:
        self.get(
            "/api/sentiment/aggregate",
            "/api/sentiment/aggregate [day, 7 d]",
            period="day",
            start_date=minutes_ago(7 * 24 * 60),
        )

    @task(2)
    def distribution(self) -> None:
        self.get("/api/sentiment/distribution", "/api/sentiment/distribution [24 h]", hours=24)

    @task(1)
    def distribution_week(self) -> None:
        self.get("/api/sentiment/distribution", "/api/sentiment/distribution [168 h]", hours=168)

    @task(2)
    def emotions(self) -> None:
        self.get("/api/sentiment/emotions", "/api/sentiment/emotions [hour, 24 h]", period="hour")

    @task(1)
    def alerts(self) -> None:
        self.get("/api/alerts", "/api/alerts", limit=20)

    @task(1)
    def health(self) -> None:
        self.get("/api/health", "/api/health")

    # A topic picked on the dashboard: its panels, share of voice, and a search.
    @task(2)
    def topic_posts(self) -> None:
        if self.topics:
            self.get("/api/posts", "/api/posts [topic]", limit=50, topic=random.choice(self.topics))

    @task(1)
    def topic_aggregate(self) -> None:
        if self.topics:
            topic = random.choice(self.topics)
            self.get(
                "/api/sentiment/aggregate",
                "/api/sentiment/aggregate [topic, hour]",
                period="hour",
                topic=topic,
            )

    @task(1)
    def topic_distribution(self) -> None:
        if self.topics:
            topic = random.choice(self.topics)
            self.get(
                "/api/sentiment/distribution", "/api/sentiment/distribution [topic]", hours=24, topic=topic
            )

    @task(1)
    def share_of_voice(self) -> None:
        self.get("/api/topics/share", "/api/topics/share [24 h]", hours=24)

    @task(1)
    def topic_authors(self) -> None:
        if self.topics:
            self.get(f"/api/topics/{random.choice(self.topics)}/authors", "/api/topics/{id}/authors")

    @task(1)
    def topic_hashtags(self) -> None:
        if self.topics:
            self.get(f"/api/topics/{random.choice(self.topics)}/hashtags", "/api/topics/{id}/hashtags")

    @task(2)
    def search(self) -> None:
        share, q = random.choice(list(SEARCHES.items()))
        self.get("/api/posts", f"/api/posts [search {share}]", limit=50, q=q)


class Ingester(HttpUser):
    """POST /api/ingest, 1,000 posts a request. A 429 (the backlog at STREAM_MAX_BACKLOG) is counted apart,
    as ``/api/ingest [429: retry later]``, and its Retry-After is honoured, as a well-behaved client does."""

    wait_time = constant(0)
    BATCH = 1000
    _ids = itertools.count()

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['INGEST_TOKEN']}"
        self.prefix = uuid.uuid4().hex[:8]

    @task
    def ingest(self) -> None:
        now = iso(datetime.now(UTC))
        posts = [
            {
                "post_id": f"load-{self.prefix}-{next(self._ids)}",
                "source": random.choice(SOURCES),
                "content": "Loving the new release, it is so much faster than the last one",
                "author": "load",
                "created_at": now,
            }
            for _ in range(self.BATCH)
        ]
        with self.client.post(
            "/api/ingest", json={"posts": posts}, name="/api/ingest [1,000 posts]", catch_response=True
        ) as response:
            if response.status_code == 429:
                response.request_meta["name"] = "/api/ingest [429: retry later]"
                time.sleep(float(response.headers.get("retry-after", 1)))  # gevent's sleep under locust
            elif response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            elif response.json()["accepted"] != self.BATCH:
                response.failure(f"accepted {response.json()['accepted']} of {self.BATCH}")
