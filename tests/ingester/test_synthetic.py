"""The synthetic feed reads like a real one, and the same seed gives the same posts."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.messages import PostMessage
from services.ingester.synthetic import Generated, Generator

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def feed(n: int, **options: Any) -> list[Generated]:
    generator = Generator(run_id="t", **options)
    return [generator.next(NOW) for _ in range(n)]


def test_the_same_seed_gives_the_same_posts_and_another_seed_others() -> None:
    assert [g.post for g in feed(200, seed=1)] == [g.post for g in feed(200, seed=1)]
    assert [g.post.content for g in feed(200, seed=1)] != [g.post.content for g in feed(200, seed=2)]


def test_posts_are_valid_messages_with_utc_times_and_unique_ids() -> None:
    posts = [g.post for g in feed(2000)]
    for post in posts:
        assert PostMessage.parse(post.to_stream()) == post
        assert post.created_at.tzinfo is not None
        assert post.created_at.utcoffset() == timedelta(0)
    assert len({p.post_id for p in posts}) == len(posts)


def test_the_feed_is_varied_like_a_real_one() -> None:
    made = feed(3000)
    posts = [g.post for g in made]
    sources = Counter(p.source for p in posts)
    assert len(sources) >= 5
    assert sources.most_common(1)[0][0] == "synthetic-twitter"
    assert all(source.startswith("synthetic-") for source in sources), "never a live source's label"
    authors = Counter(p.author for p in posts)
    assert len(authors) > 200, "many authors"
    assert authors.most_common(1)[0][1] > 5 * (len(posts) / len(authors)), "a few post a lot"
    lengths = sorted(len(p.content) for p in posts)
    assert lengths[len(lengths) // 10] < 60 < 150 < lengths[-len(lengths) // 10], "short and long posts"
    reddit = [len(p.content) for p in posts if p.source == "synthetic-reddit"]
    twitter = [len(p.content) for p in posts if p.source == "synthetic-twitter"]
    assert sum(reddit) / len(reddit) > 1.5 * sum(twitter) / len(twitter), "reddit runs longer"

    def share(test: Callable[[PostMessage], bool]) -> float:
        return sum(map(test, posts)) / len(posts)

    assert 0.2 < share(lambda p: "#" in p.content) < 0.8
    assert 0.1 < share(lambda p: p.content.startswith("@")) < 0.35
    assert 0.2 < share(lambda p: any(ord(c) > 0x1F000 for c in p.content)) < 0.7, "emoji"
    assert 0.02 < sum(g.sentiment == "unknown" for g in made) / len(made) < 0.1, (
        "another language now and then"
    )
    sentiments = Counter(g.sentiment for g in made if g.sentiment != "unknown")
    assert all(0.2 < sentiments[s] / sentiments.total() < 0.5 for s in ("negative", "neutral", "positive"))
    assert set(g.emotion for g in made) >= {
        "anger",
        "disgust",
        "fear",
        "joy",
        "neutral",
        "sadness",
        "surprise",
    }


def test_the_burst_scenario_is_a_negative_burst_on_one_topic() -> None:
    steady, burst = feed(2000), feed(2000, scenario="burst", burst_topic="airline")

    def negative_share(made: list[Generated], topic: str) -> float:
        about = [g for g in made if g.topic == topic]
        return sum(g.sentiment == "negative" for g in about) / len(about)

    assert sum(g.topic == "airline" for g in burst) > 0.5 * len(burst)
    assert negative_share(burst, "airline") > 0.7 > 0.4 > negative_share(steady, "airline")


def test_an_unknown_burst_topic_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown topic 'nope': one of phone, airline"):
        Generator(burst_topic="nope")
