"""The taskiq broker: in memory for the embedded default, Redis Streams with workers.

With ``CONVOFLOW_REDIS_URL`` set, jobs go to one Redis stream read by the
``convoflow worker`` processes of one consumer group (each job to one worker, acknowledged
after it ran; a dead worker's unacknowledged jobs are claimed by another after
:data:`IDLE_CLAIM_MS`). Without Redis, the in-memory broker runs each job as an asyncio task
of the ``convoflow serve`` process that kicked it.

While Redis is away the worker's read loop does not fail: it reports the outage to the
process's :class:`~convoflow.outages.Outages` (one line, then a summary now and then),
waits with a capped backoff, probes Redis with ``PING`` and resumes reading once it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from convoflow.outages import Outages, Pause, retry_delay
from convoflow.settings import Settings
from convoflow.store.transient import REDIS, failure_reason, transient_failure

__all__ = [
    "CONSUMER_GROUP",
    "IDLE_CLAIM_MS",
    "JOB_STREAM",
    "JobStreamBroker",
    "create_broker",
    "runs_in_process",
]

logger = logging.getLogger(__name__)

JOB_STREAM = "convoflow:jobs"
CONSUMER_GROUP = "convoflow-workers"
IDLE_CLAIM_MS = 60_000
#: The stream is trimmed (approximately) to this many entries; jobs are tiny.
STREAM_MAX_LENGTH = 100_000
#: The longest wait between two probes of a Redis that is away.
MAX_BACKOFF_SECONDS = 10.0


class JobStreamBroker(RedisStreamBroker):
    """The Redis Streams broker, surviving a Redis that goes away or lost its data.

    Without this, a worker whose consumer group vanished would fail on every read, and a
    worker whose Redis is down would restart its receiver in a tight loop, a traceback each
    time. ``outages`` is where the outage is logged; ``pause`` is how the read loop waits
    between probes (tests hand in one that moves a fake clock).
    """

    def __init__(
        self,
        *args: Any,
        outages: Outages | None = None,
        pause: Pause = asyncio.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.outages = outages or Outages()
        self.pause = pause

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Read jobs; wait out Redis outages; re-create the stream and the group when Redis
        no longer has them."""
        lost_group = False
        while True:
            try:
                if lost_group:
                    logger.warning(
                        "job stream %s lost its consumer group; creating it", self.queue_name
                    )
                    await self._declare_consumer_group()
                    lost_group = False
                async for message in super().listen():
                    yield message
            except Exception as error:
                if isinstance(error, ResponseError) and "NOGROUP" in str(error):
                    lost_group = True
                    continue
                if transient_failure(error, service=REDIS) is None:
                    raise
                await self._wait_for_redis(error)

    async def _wait_for_redis(self, error: BaseException) -> None:
        """Log the outage, then probe with backoff until Redis answers again."""
        outage = self.outages.of(REDIS)
        failures = 0
        while True:
            failures += 1
            outage.failed(failure_reason(error))
            await self.pause(retry_delay(failures, cap=MAX_BACKOFF_SECONDS))
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await redis.ping()
            except Exception as probe_error:
                if transient_failure(probe_error, service=REDIS) is None:
                    raise
                error = probe_error
                continue
            outage.recovered()
            return


def create_broker(settings: Settings, *, outages: Outages | None = None) -> AsyncBroker:
    """A Redis Streams broker when Redis is configured, else an in-memory one.

    ``outages`` is where the broker logs a Redis outage (the process's, so that one outage
    is one line whichever part notices it).
    """
    if settings.redis_url:
        broker: AsyncBroker = JobStreamBroker(
            url=settings.redis_url,
            queue_name=JOB_STREAM,
            consumer_group_name=CONSUMER_GROUP,
            # A group created after jobs were queued still reads them from the start.
            consumer_id="0",
            maxlen=STREAM_MAX_LENGTH,
            idle_timeout=IDLE_CLAIM_MS,
            xread_block=1000,
            # A worker killed while holding the reclaim lock must not block the others.
            unacknowledged_lock_timeout=5,
            outages=outages,
        )
        return broker
    return InMemoryBroker(max_stored_results=1)


def runs_in_process(broker: AsyncBroker) -> bool:
    """True when jobs run inside the process that kicks them (no worker processes)."""
    return isinstance(broker, InMemoryBroker)
