"""End-to-end fixtures: the app with its lifespan behind signed webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.e2e.processes import PROCESS_REDIS_URL
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import WebhookClient, clean_app


@pytest.fixture
async def whatsapp(database_url: str, graph_stub: GraphStub) -> AsyncIterator[WebhookClient]:
    """The app (jobs in process) connected to the stand-in Graph API."""
    async with clean_app(database_url, graph_stub) as client:
        yield client


@pytest.fixture
async def clean_redis(redis_url: str) -> AsyncIterator[None]:
    """The process tests' Redis database, emptied before and after."""
    client = Redis.from_url(PROCESS_REDIS_URL)
    await client.flushdb()
    yield
    await client.flushdb()
    await client.aclose()
