"""A Redis client on the test server (database 15), flushed around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from redis.asyncio import Redis

from tests.support.databases import REDIS_URL, require_service


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL (skipped locally, failed under CI, when Redis is down)."""
    parsed = urlparse(REDIS_URL)
    require_service("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """A clean Redis database for one test."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
