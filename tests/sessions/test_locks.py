"""Per-conversation locks: one holder at a time, in process, on Redis and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from convoflow.runtime import Runtime
from convoflow.sessions.locks import InProcessLocks, PostgresAdvisoryLocks, RedisLocks


async def _overlap_seen(runtime: Runtime, locks: object, holders: int = 5) -> int:
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with runtime.db_sessions() as db_session:
            async with locks.hold(db_session, owner_id="o", customer_key="c"):  # type: ignore[attr-defined]
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.02)
                inside -= 1
                await db_session.commit()

    await asyncio.gather(*(hold() for _ in range(holders)))
    return most


async def test_in_process_lock_serialises(runtime: Runtime) -> None:
    assert await _overlap_seen(runtime, InProcessLocks()) == 1


async def test_redis_lock_serialises(runtime: Runtime, redis_client: Redis) -> None:
    assert await _overlap_seen(runtime, RedisLocks(redis_client)) == 1


@pytest.mark.postgres
async def test_postgres_advisory_lock_serialises(pg_url: str) -> None:
    from tests.conftest import make_settings

    runtime = Runtime.build(make_settings(pg_url))
    try:
        assert await _overlap_seen(runtime, PostgresAdvisoryLocks()) == 1
    finally:
        await runtime.close()
