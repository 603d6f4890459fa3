"""A seeded runtime per state-store setup: SQL on SQLite, SQL on PostgreSQL, Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from tests.conftest import make_settings
from tests.support.databases import truncate_all


@pytest.fixture(params=["sql-sqlite", "sql-postgres", "redis-postgres"])
async def seeded(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    """A runtime with the built-in templates seeded for `admin`, cleaned up afterwards."""
    store, database = request.param.split("-")
    url = request.getfixturevalue("pg_url" if database == "postgres" else "sqlite_url")
    overrides: dict[str, object] = {}
    if store == "redis":
        overrides = {"redis_url": request.getfixturevalue("redis_url"), "session_store": "redis"}
    # A fake clock from the real present: expiry and timers are tested by moving it.
    runtime = Runtime.build(make_settings(url, **overrides), clock=FakeClock(datetime.now(UTC)))
    await truncate_all(runtime.engine)
    if runtime.redis is not None:
        await runtime.redis.flushdb()
    await seed(runtime.db_sessions)
    yield runtime
    await truncate_all(runtime.engine)
    if runtime.redis is not None:
        await runtime.redis.flushdb()
    await runtime.close()


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
