"""The producer on the real Redis: invalid records never sent, the backlog limit respected, outages survived."""

import asyncio

import redis.asyncio as aioredis

from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.ingester.producer import Producer
from services.ingester.synthetic import Generator
from tests.support import LoneRedis


def valid(n: int) -> list[PostMessage]:
    generator = Generator(seed=3, run_id="p")
    return [generator.next().post for _ in range(n)]


async def test_invalid_records_are_reported_and_never_sent(redis: aioredis.Redis, names: RedisNames) -> None:
    producer = Producer(redis, names, max_backlog=1000, batch=10)
    good = valid(1)[0].to_stream()
    records = [good, {**good, "post_id": "x y"}, {k: v for k, v in good.items() if k != "content"}]
    for record in records:
        if (post := producer.check(record)) is not None:
            await producer.send(post)
    await producer.flush()
    assert await redis.xlen(names.stream) == 1
    assert producer.tally.sent == 1
    assert producer.tally.invalid == 2
    assert producer.tally.reasons["content: required"] == 1
    assert any(reason.startswith("post_id: ") for reason in producer.tally.reasons)
    assert "1 invalid" not in producer.tally.summary(1.0)
    assert "2 invalid, skipped" in producer.tally.summary(1.0)


async def test_sending_waits_while_the_backlog_is_at_its_limit(
    redis: aioredis.Redis, names: RedisNames
) -> None:
    producer = Producer(redis, names, max_backlog=100, batch=10)
    posts = valid(150)

    async def send_all() -> None:
        for post in posts:
            await producer.send(post)
        await producer.flush()

    task = asyncio.create_task(send_all())
    await asyncio.sleep(1.0)
    assert not task.done(), "the producer waits for room"
    assert await redis.xlen(names.stream) == 100, "and never passes the limit"
    # A worker acknowledges and trims what it has done: the producer goes on.
    await redis.xtrim(names.stream, maxlen=0)
    await asyncio.wait_for(task, 10)
    assert producer.tally.sent == 150
    assert producer.tally.waited_s > 0.5


async def test_sending_goes_on_when_redis_comes_back(lone_redis: LoneRedis) -> None:
    client = aioredis.Redis(port=lone_redis.port, socket_connect_timeout=1)
    names = RedisNames("t:")
    producer = Producer(client, names, max_backlog=1000, batch=5)
    task = asyncio.create_task(asyncio.wait_for(_send(producer, valid(20)), 60))
    await asyncio.sleep(1.5)
    assert not task.done(), "Redis is down: the producer keeps trying"
    lone_redis.start()
    await task
    assert await client.xlen(names.stream) == 20
    await client.aclose()


async def test_sending_waits_while_redis_refuses_writes_and_goes_on_after(lone_redis: LoneRedis) -> None:
    lone_redis.start()
    client = aioredis.Redis(port=lone_redis.port, socket_connect_timeout=1)
    await until_answers(client)
    await client.config_set("maxmemory", 1)  # full, with noeviction: every XADD is refused (OOM)
    names = RedisNames("t:")
    producer = Producer(client, names, max_backlog=1000, batch=5)
    task = asyncio.create_task(asyncio.wait_for(_send(producer, valid(20)), 60))
    await asyncio.sleep(1.5)
    assert not task.done(), "Redis refuses writes: the producer keeps trying"
    await client.config_set("maxmemory", 0)  # memory freed
    await task
    assert await client.xlen(names.stream) == 20
    await client.aclose()


async def until_answers(client: aioredis.Redis) -> None:
    for _ in range(200):
        try:
            await client.ping()
            return
        except (aioredis.ConnectionError, OSError):
            await asyncio.sleep(0.05)
    raise TimeoutError("the test Redis did not answer")


async def _send(producer: Producer, posts: list[PostMessage]) -> None:
    for post in posts:
        await producer.send(post)
    await producer.flush()
