"""The worker's job receiver while Redis is away: one log line, a summary every 30 s of
(fake) time, a capped backoff between probes, and jobs again once Redis is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from taskiq.kicker import AsyncKicker

from convoflow.clock import FakeClock
from convoflow.jobs.broker import (
    CONSUMER_GROUP,
    JOB_STREAM,
    MAX_BACKOFF_SECONDS,
    JobStreamBroker,
    create_broker,
)
from convoflow.jobs.worker import receive_jobs
from convoflow.outages import SUMMARY_SECONDS, Outages
from tests.conftest import make_settings
from tests.support.databases import REDIS_URL
from tests.support.tcp_proxy import TcpProxy, proxy_to
from tests.support.webhooks import eventually

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_proxy(redis_client: Redis) -> AsyncIterator[TcpProxy]:
    redis = urlsplit(REDIS_URL)
    async with proxy_to(redis.hostname or "127.0.0.1", redis.port or 6379) as proxy:
        yield proxy


class FakePauses:
    """A pause that moves the clock instead of sleeping, and remembers each wait."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


async def test_redis_away_is_one_line_then_a_summary_now_and_then_not_a_flood(
    redis_proxy: TcpProxy, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    outages = Outages(clock=clock)
    redis = urlsplit(REDIS_URL)
    settings = make_settings(
        "sqlite+aiosqlite:///unused.db",
        redis_url=f"redis://127.0.0.1:{redis_proxy.port}{redis.path}",
    )
    broker = create_broker(settings, outages=outages)
    assert isinstance(broker, JobStreamBroker)
    pauses = FakePauses(clock)
    broker.pause = pauses
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    broker.register_task(job, task_name="test.job")
    await broker.startup()
    receiving = asyncio.create_task(receive_jobs(broker, concurrency=2, outages=outages))
    try:
        await redis_proxy.stop()

        async def many_attempts() -> bool:
            return len(pauses.waits) >= 60

        await eventually(many_attempts, what="60 failed probes")
        await redis_proxy.start()
        await AsyncKicker(task_name="test.job", broker=broker, labels={}).kiq()
        await asyncio.wait_for(ran.wait(), timeout=30)

        async def acknowledged() -> bool:
            pending = await redis_client.xpending(JOB_STREAM, CONSUMER_GROUP)
            return int(pending["pending"]) == 0

        # Cancelling the receiver while an acknowledgement is in flight can leave the stream
        # read uncancelled (redis-py and taskiq), so the test stops it once all is acked.
        await eventually(acknowledged, what="the job's acknowledgement")
    finally:
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
        await broker.shutdown()

    messages = [record.getMessage() for record in caplog.records]
    assert [record for record in caplog.records if record.exc_info] == []
    assert len([m for m in messages if m.startswith("outage: redis unreachable")]) == 1
    summaries = [m for m in messages if m.startswith("outage: redis still down after")]
    assert 1 <= len(summaries) <= sum(pauses.waits) / SUMMARY_SECONDS + 1
    [back] = [m for m in messages if m.startswith("outage over: redis back")]
    assert "failed attempts" in back
    assert len(caplog.records) < 2 + len(summaries) + 10  # not one record per attempt
    assert pauses.waits[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(pauses.waits) == MAX_BACKOFF_SECONDS
