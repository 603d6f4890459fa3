"""The processor loop: pending inbound messages are processed as they arrive, in batches.

No job per message: each lane of the loop asks
:meth:`~convoflow.jobs.tasks.JobHandlers.process_heads` for the head message of up to
:data:`~convoflow.services.inbox.heads.DEFAULT_HEADS` customers at a time, and goes again at
once while there was work. When there is none it waits for a wake-up
(:mod:`convoflow.jobs.inbox_signal`: one per batch the webhook stored) or
:data:`POLL_SECONDS`, whichever comes first, so a lost wake-up costs one poll.

Runs in every ``convoflow worker``, and in ``convoflow serve`` when jobs run in-process (the
embedded default). Lanes and processes share the work through the conversation locks, so
any number of them answer each message once, in order per customer. A failure is logged
once per outage and the lane waits a growing backoff before the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis

from convoflow.jobs.inbox_signal import INBOX_CHANNEL
from convoflow.jobs.tasks import JobHandlers
from convoflow.outages import Outages, retry_delay
from convoflow.store.transient import REDIS

__all__ = ["DEFAULT_LANES", "POLL_SECONDS", "InboxLoop"]

logger = logging.getLogger(__name__)

#: How long an idle lane waits for a wake-up before it looks anyway.
POLL_SECONDS = 0.5
#: Lanes per process: while one waits for the database, another runs the engine.
DEFAULT_LANES = 2
#: How long a lane waits when every due customer is being processed by someone else.
BUSY_PAUSE_SECONDS = 0.02
#: The longest wait of a lane after failures.
MAX_BACKOFF_SECONDS = 10.0


class InboxLoop:
    """Runs ``lanes`` processing lanes (and, given ``redis``, a wake-up subscriber) until
    the stop event is set."""

    def __init__(
        self,
        handlers: JobHandlers,
        *,
        outages: Outages,
        redis: Redis | None = None,
        lanes: int = DEFAULT_LANES,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.handlers = handlers
        self.outages = outages
        self.redis = redis
        self.lanes = lanes
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New messages were stored: idle lanes look now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; the batch under way finishes first."""
        tasks = [
            asyncio.create_task(self._lane(stop), name=f"convoflow-inbox-{n}")
            for n in range(self.lanes)
        ]
        if self.redis is not None:
            tasks.append(asyncio.create_task(self._listen(stop), name="convoflow-inbox-wake"))
        try:
            await stop.wait()
        finally:
            self._wake.set()
            for task in tasks[self.lanes :]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _lane(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            try:
                report = await self.handlers.process_heads()
            except Exception as exc:
                failures += 1
                if not self.outages.absorb(exc, what="processing inbound messages"):
                    logger.exception("processing inbound messages failed")
                await self._idle(retry_delay(failures, cap=MAX_BACKOFF_SECONDS))
                continue
            failures = 0
            if not report.found:
                await self._idle(self.poll_seconds)
            elif not report.batches:  # every due customer is held by another processor
                await self._idle(BUSY_PAUSE_SECONDS)

    async def _idle(self, seconds: float) -> None:
        """Wait ``seconds``, or less when woken or stopped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _listen(self, stop: asyncio.Event) -> None:
        """Turn the webhook servers' announcements on Redis into wake-ups."""
        assert self.redis is not None
        failures = 0
        while not stop.is_set():
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(INBOX_CHANNEL)
                    failures = 0
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if not self.outages.absorb(exc, what="inbox wake-ups", service=REDIS):
                    logger.exception("inbox wake-ups failed; polling meanwhile")
                await asyncio.sleep(retry_delay(failures, cap=MAX_BACKOFF_SECONDS))
