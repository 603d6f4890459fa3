"""The taskiq broker: in memory for the embedded default, Redis Streams with workers.

With ``CONVOFLOW_REDIS_URL`` set, jobs go to one Redis stream read by the
``convoflow worker`` processes of one consumer group (each job to one worker, acknowledged
after it ran; a dead worker's unacknowledged jobs are claimed by another after
:data:`IDLE_CLAIM_MS`). Without Redis, the in-memory broker runs each job as an asyncio task
of the ``convoflow serve`` process that kicked it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

from redis.exceptions import ResponseError
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from convoflow.settings import Settings

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


class JobStreamBroker(RedisStreamBroker):
    """The Redis Streams broker, surviving a Redis that lost its data (restart, flush).

    Without this, a worker whose consumer group vanished would fail on every read.
    """

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Read jobs; re-create the stream and the group when Redis no longer has them."""
        while True:
            try:
                async for message in super().listen():
                    yield message
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                logger.warning(
                    "job stream %s lost its consumer group; creating it", self.queue_name
                )
                await self._declare_consumer_group()


def create_broker(settings: Settings) -> AsyncBroker:
    """A Redis Streams broker when Redis is configured, else an in-memory one."""
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
        )
        return broker
    return InMemoryBroker(max_stored_results=1)


def runs_in_process(broker: AsyncBroker) -> bool:
    """True when jobs run inside the process that kicks them (no worker processes)."""
    return isinstance(broker, InMemoryBroker)
