import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import inspect, text

from services.common.db.engine import create_engine
from services.common.db.migrate import alembic_config, downgrade, upgrade, wait_for_database
from services.common.db.partitions import is_partition

TABLES = {
    "social_media_posts",
    "sentiment_analysis",
    "sentiment_alerts",
    "sentiment_rollup",
    "dead_letters",
    "post_ids",
    "post_tombstones",
    "topics",
    "post_topics",
    "topic_rollup",
    "post_terms",
}


def schema(database_url: str) -> dict[str, object]:
    async def read() -> dict[str, object]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            found = await conn.run_sync(
                lambda sync: {
                    "tables": {name for name in inspect(sync).get_table_names() if not is_partition(name)}
                    - {"alembic_version"},
                    "partitions": {name for name in inspect(sync).get_table_names() if is_partition(name)},
                    "indexes": {
                        (table, tuple(ix["column_names"]))
                        for table in TABLES & set(inspect(sync).get_table_names())
                        for ix in inspect(sync).get_indexes(table)
                    },
                    "keys": {
                        (table, tuple(inspect(sync).get_pk_constraint(table)["constrained_columns"]))
                        for table in TABLES & set(inspect(sync).get_table_names())
                    },
                }
            )
        await engine.dispose()
        return found

    return asyncio.run(read())


def run_migrate(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "DB_WAIT_TIMEOUT_S": "3"}
    return subprocess.run(
        [sys.executable, "-m", "services.common.db.migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_creates_the_database_and_migrates_up_and_down(scratch_url: str) -> None:
    done = run_migrate(scratch_url)
    assert done.returncode == 0, done.stderr
    found = schema(scratch_url)
    assert found["tables"] == TABLES
    assert {
        ("social_media_posts", ("created_at",)),
        ("social_media_posts", ("source",)),
        ("sentiment_analysis", ("analyzed_at",)),
        ("sentiment_analysis", ("sentiment_label",)),
    } <= found["indexes"]  # type: ignore[operator]
    assert {
        ("social_media_posts", ("post_id", "created_at")),
        ("sentiment_analysis", ("post_id", "created_at")),
        ("post_ids", ("post_id",)),
        ("post_tombstones", ("post_id",)),
        ("sentiment_rollup", ("grain", "bucket", "source", "lang", "sentiment_label", "emotion")),
        ("post_topics", ("post_id", "created_at", "topic_id")),
        ("post_terms", ("post_id", "created_at", "term")),
        ("topic_rollup", ("topic_id", "grain", "bucket", "source", "lang", "sentiment_label", "emotion")),
    } <= found["keys"]  # type: ignore[operator]
    # the partitions of the retention window (30 days by default), and three days ahead, for the three tables
    assert len(found["partitions"]) >= 3 * (30 + 3)  # type: ignore[arg-type]

    done = run_migrate(scratch_url, "--downgrade", "base")
    assert done.returncode == 0, done.stderr
    assert schema(scratch_url)["tables"] == set()
    assert schema(scratch_url)["partitions"] == set()

    assert run_migrate(scratch_url).returncode == 0  # and up again
    assert schema(scratch_url)["tables"] == TABLES


def test_the_models_match_the_migrations(scratch_url: str) -> None:
    asyncio.run(wait_for_database(scratch_url, timeout_s=10))
    upgrade(scratch_url)
    command.check(alembic_config(scratch_url))  # raises when a model change has no migration
    downgrade(scratch_url, "base")


def test_an_unreachable_database_is_reported_not_waited_on_forever() -> None:
    done = run_migrate("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    assert done.returncode == 1
    assert "PostgreSQL at 127.0.0.1:1 did not answer within 3 s" in done.stderr
    assert "Traceback" not in done.stderr


Statement = str | tuple[str, dict[str, object]]


def run_on(database_url: str, *statements: Statement) -> list[tuple[object, ...]]:
    """The statements run in one transaction; the last one's rows."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                result = None
                for statement in statements:
                    sql, params = statement if isinstance(statement, tuple) else (statement, {})
                    result = await conn.execute(text(sql), params)
                return [tuple(r) for r in result] if result is not None and result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0006_keeps_the_rollup_counting_and_its_downgrade_sums_the_languages(scratch_url: str) -> None:
    """Posts stored before languages keep their buckets ('' for their language); the downgrade adds each
    bucket's languages together again."""
    asyncio.run(wait_for_database(scratch_url, timeout_s=10))
    upgrade(scratch_url, "0005")
    when = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(days=1)

    def run(*statements: Statement) -> list[tuple[object, ...]]:
        return run_on(scratch_url, *statements)

    def store(ids: list[str], lang: str | None = None) -> list[Statement]:
        post = (
            "INSERT INTO social_media_posts (post_id, source, content, author, created_at, lang)"
            " VALUES (:id, 'rss', 'text', 'someone', :at, :lang)"
            if lang
            else "INSERT INTO social_media_posts (post_id, source, content, author, created_at)"
            " VALUES (:id, 'rss', 'text', 'someone', :at)"  # at 0005, which has no lang
        )
        return [
            (statement, {"id": i, "at": when} | ({"lang": lang} if lang else {}))
            for i in ids
            for statement in (
                "INSERT INTO post_ids (post_id, created_at) VALUES (:id, :at)",
                post,
                "INSERT INTO sentiment_analysis (post_id, created_at, model_name, sentiment_label,"
                " confidence_score, emotion) VALUES (:id, :at, 'm', 'positive', 0.5, 'joy')",
            )
        ]

    buckets = "SELECT grain, lang, posts FROM sentiment_rollup ORDER BY grain, lang"
    run(*store(["old-1", "old-2"]))
    upgrade(scratch_url)
    assert run(buckets) == [("hour", "", 2), ("minute", "", 2)]
    run(*store(["new-1"], lang="en"), *store(["new-2", "new-3"], lang="fr"))
    assert run(buckets) == [
        ("hour", "", 2),
        ("hour", "en", 1),
        ("hour", "fr", 2),
        ("minute", "", 2),
        ("minute", "en", 1),
        ("minute", "fr", 2),
    ]
    downgrade(scratch_url, "0005")
    assert run("SELECT grain, posts FROM sentiment_rollup ORDER BY grain") == [
        ("hour", 5),
        ("minute", 5),
    ]
    run("DELETE FROM social_media_posts WHERE post_id = 'new-2'")  # 0005's triggers again
    assert run("SELECT grain, posts FROM sentiment_rollup ORDER BY grain") == [
        ("hour", 4),
        ("minute", 4),
    ]
    downgrade(scratch_url, "base")


def test_0010_finds_the_terms_of_the_posts_stored_before_it(scratch_url: str) -> None:
    """The posts stored before migration 0010 get their hashtags and mentions; a post deleted afterwards
    takes its terms with it, and the downgrade leaves the posts as they were."""
    asyncio.run(wait_for_database(scratch_url, timeout_s=10))
    upgrade(scratch_url)  # the days' partitions, made at head
    downgrade(scratch_url, "0009")
    when = datetime.now(UTC) - timedelta(days=2)
    texts = {"a": "#Launch day with @alice.bsky.social", "b": "no terms", "c": "#launch again"}
    run_on(
        scratch_url,
        *(
            (
                "INSERT INTO social_media_posts (post_id, source, content, author, created_at)"
                " VALUES (:id, 'rss', :content, 'someone', :at)",
                {"id": post_id, "content": content, "at": when},
            )
            for post_id, content in texts.items()
        ),
    )
    upgrade(scratch_url)
    terms = "SELECT post_id, term FROM post_terms ORDER BY post_id, term"
    assert run_on(scratch_url, terms) == [("a", "#launch"), ("a", "@alice.bsky.social"), ("c", "#launch")]
    run_on(scratch_url, "DELETE FROM social_media_posts WHERE post_id = 'a'")
    assert run_on(scratch_url, terms) == [("c", "#launch")]
    downgrade(scratch_url, "0009")
    assert run_on(scratch_url, "SELECT count(*) FROM social_media_posts") == [(2,)]
    downgrade(scratch_url, "base")
