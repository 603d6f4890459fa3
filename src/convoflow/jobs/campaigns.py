"""The background side of campaigns: the scheduler's pass every second, and the
periodic template sync.

:class:`CampaignJobs` runs where the sweeper runs (each worker, or the server with
in-process jobs). Every pass of the scheduler
(:class:`~convoflow.services.campaigns.scheduler.CampaignScheduler`) may queue a batch of
campaign rows; their customers are handed to this process's send lane as *background*
requests, served only when no conversation reply waits. What a pass queued is durable, so
a lost hand-over is found again by the sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.jobs.send_lane import SendLane
from convoflow.outages import Outages, retry_delay
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.campaigns.scheduler import CampaignScheduler, TickReport
from convoflow.services.campaigns.template_sync import TemplateSource, sync_templates
from convoflow.store.models import PhoneNumber

__all__ = ["CAMPAIGN_TICK_SECONDS", "CampaignJobs"]

logger = logging.getLogger(__name__)

CAMPAIGN_TICK_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
_SYNC_LOCK = "convoflow:template-sync"


class CampaignJobs:
    """Runs the campaign scheduler and the template sync until stopped."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        sending: SendLane,
        source: TemplateSource,
        tokens: AccessTokens | None,
        default_waba_id: str = "",
        sync_every: float = 3600.0,
        redis: Redis | None = None,
        outages: Outages | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.db_sessions = db_sessions
        self.sending = sending
        self.scheduler = CampaignScheduler(db_sessions, clock=clock)
        self.source = source
        self.tokens = tokens
        self.default_waba_id = default_waba_id
        self.sync_every = sync_every
        self.redis = redis
        self.clock = clock
        self.outages = outages or Outages(clock=clock)
        self._last_sync = float("-inf")

    async def tick(self) -> TickReport:
        """One scheduler pass; hand what it queued to the send lane."""
        report = await self.scheduler.tick()
        for owner_id, customer_key in report.customers:
            self.sending.request(owner_id, customer_key, background=True)
        if report.queued or report.deferred or report.completed or report.started:
            logger.info("campaigns: %s", {k: v for k, v in _counts(report).items() if v})
        return report

    async def sync_due_templates(self) -> int:
        """Sync every owner's templates when the period is over (once across processes
        when Redis is configured); how many owners were synced."""
        if self.sync_every <= 0 or self.clock.monotonic() - self._last_sync < self.sync_every:
            return 0
        self._last_sync = self.clock.monotonic()
        if self.redis is not None and not await self.redis.set(
            _SYNC_LOCK, b"1", nx=True, ex=max(int(self.sync_every), 1)
        ):
            return 0
        async with self.db_sessions() as db_session:
            owners = list((await db_session.scalars(select(PhoneNumber.owner_id).distinct())).all())
        synced = 0
        for owner_id in owners:
            try:
                await sync_templates(
                    self.db_sessions,
                    self.source,
                    self.tokens,
                    owner_id=owner_id,
                    default_waba_id=self.default_waba_id,
                    now=self.clock.now(),
                )
                synced += 1
            except Exception as error:  # one owner's WABA must not stop the others
                logger.warning("template sync for owner %s failed: %s", owner_id, error)
        return synced

    async def run(self, stop: asyncio.Event, *, interval: float = CAMPAIGN_TICK_SECONDS) -> None:
        """Pass every ``interval`` seconds until ``stop`` is set; back off while the
        database is away."""
        failures = 0
        while not stop.is_set():
            try:
                await self.tick()
                await self.sync_due_templates()
                failures = 0
            except Exception as error:
                failures += 1
                if not self.outages.absorb(error, what="campaign scheduler"):
                    logger.exception("campaign scheduler pass failed")
            wait = interval
            if failures:
                wait = max(interval, retry_delay(failures, base=interval, cap=MAX_BACKOFF_SECONDS))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)


def _counts(report: TickReport) -> dict[str, int]:
    return {
        "started": report.started,
        "queued": report.queued,
        "deferred": report.deferred,
        "opted_out": report.opted_out,
        "completed": report.completed,
    }
