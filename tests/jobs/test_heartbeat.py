"""Worker heartbeats appear while a worker runs and expire when nobody refreshes them."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from convoflow.clock import FakeClock
from convoflow.jobs.heartbeat import INDEX_KEY, KEY_PREFIX, LocalHeartbeats, RedisHeartbeats
from convoflow.jobs.worker import run_worker
from convoflow.runtime import Runtime
from tests.conftest import make_settings
from tests.support.databases import REDIS_URL
from tests.support.webhooks import eventually


async def test_a_local_heartbeat_lasts_its_ttl_on_the_clock() -> None:
    clock = FakeClock()
    heartbeats = LocalHeartbeats(clock)

    await heartbeats.beat("server", ttl_seconds=15, about={})
    clock.advance(14.9)
    assert await heartbeats.alive() == 1
    clock.advance(0.2)
    assert await heartbeats.alive() == 0

    await heartbeats.beat("server", ttl_seconds=15, about={})
    await heartbeats.forget("server")
    assert await heartbeats.alive() == 0


async def test_a_heartbeat_in_redis_appears_and_redis_expires_it_after_its_ttl(
    redis_client: Redis,
) -> None:
    heartbeats = RedisHeartbeats(redis_client)

    await heartbeats.beat("w-short", ttl_seconds=0.2, about={"pid": 1})
    await heartbeats.beat("w-long", ttl_seconds=600, about={"pid": 2})

    assert await heartbeats.alive() == 2
    assert 0 < await redis_client.pttl(KEY_PREFIX + "w-short") <= 200

    async def one_left() -> bool:
        return await heartbeats.alive() == 1

    await eventually(one_left, what="the short heartbeat to expire")  # Redis expires it
    assert await redis_client.smembers(INDEX_KEY) == {b"w-long"}  # and the index forgets it
    await heartbeats.forget("w-long")
    assert await heartbeats.alive() == 0


async def test_a_running_worker_keeps_a_heartbeat_and_removes_it_when_it_stops(
    sqlite_url: str, redis_client: Redis
) -> None:
    heartbeats = RedisHeartbeats(redis_client)
    stop = asyncio.Event()
    settings = make_settings(sqlite_url, redis_url=REDIS_URL)
    worker = asyncio.create_task(
        run_worker(settings, build=Runtime.build, concurrency=2, stop=stop)
    )

    async def one_alive() -> bool:
        return await heartbeats.alive() == 1

    try:
        await eventually(one_alive, what="the worker's heartbeat")
        [key] = await redis_client.keys(KEY_PREFIX + "*")
        assert 0 < await redis_client.pttl(key) <= 15_000
    finally:
        stop.set()
        await worker
    assert await heartbeats.alive() == 0
