"""The sweeper: re-runs whatever is pending, so nothing acknowledged is ever lost.

Each pass looks in the database for

* inbound messages still ``received`` a few seconds after they arrived (their job was lost:
  a crash, a full queue), or whose retry after a transient failure is due
  (:mod:`convoflow.services.inbox.retry`) → ``handle_customer``;
* queued outbound rows that are due: retries whose backoff ran out, and first attempts
  that nobody picked up → ``deliver_outbox``;
* effects that are due: retries, lost first attempts, and ``running`` rows whose runner
  died (their lease ran out) → ``run_effect`` (only kinds this version can run);
* conversations whose step timer is due (in the session store's timer index)
  → ``fire_timer``;
* expired ``conversation_state`` rows → deleted; their instances still ``active`` or
  ``waiting`` become ``cancelled`` with the error "conversation expired";
* delivery statuses kept for a wamid that never showed up (older than
  :data:`~convoflow.services.inbox.early_statuses.EARLY_STATUS_TTL`) → deleted.

Work is handed to the :class:`~convoflow.jobs.dispatcher.Dispatcher`, never done here, so
it spreads over the workers. Every process may sweep, but with Redis the processes take
turns: a pass runs only in the process that takes the interval's lease
(:meth:`Sweeper.takes_turn`), so the cluster sweeps about once per interval however many
workers it has. A kick is remembered for
:data:`KICK_MEMORY_SECONDS` (in Redis when configured, so across processes) under a key
that changes whenever the work is rescheduled, so a pass does not pile up duplicates of
jobs already queued, and a lost job is kicked again once the memory fades.

A pass that fails because the database or Redis is away is reported to the process's
:class:`~convoflow.outages.Outages` (one line when the outage starts, a summary while it
lasts) and the next pass waits longer, doubling up to :data:`MAX_BACKOFF_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.jobs.dispatcher import Dispatcher
from convoflow.jobs.effects import ATTEMPT_RUNNERS
from convoflow.jobs.sender import NEVER_DELIVERED_CHANNELS
from convoflow.outages import Outages, Pause, retry_delay
from convoflow.services.conversations.timers import StepTimers
from convoflow.services.inbox.early_statuses import purge_early_statuses
from convoflow.sessions.states import ConversationStates
from convoflow.store.models import (
    WhatsAppMessage,
    WorkflowEffect,
)
from convoflow.store.transient import DATABASE

__all__ = [
    "GRACE_SECONDS",
    "MAX_BACKOFF_SECONDS",
    "SWEEP_INTERVAL_SECONDS",
    "SweepReport",
    "Sweeper",
]

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 1.0
#: The longest wait between passes while the database or Redis is away.
MAX_BACKOFF_SECONDS = 10.0
#: New work is left to the job kicked for it for this long before the sweeper steps in.
GRACE_SECONDS = 5.0
KICK_MEMORY_SECONDS = 30.0
BATCH_SIZE = 500
_KICK_PREFIX = "convoflow:kicked:"
#: Held by the process whose turn it is to sweep, for a little less than one interval.
_TURN_KEY = "convoflow:sweep:turn"
_TURN_MARGIN_SECONDS = 0.05
Work = TypeVar("Work")


@dataclass(slots=True)
class SweepReport:
    """How much one pass found (and kicked, for all but ``expired``)."""

    inbound: int = 0
    outbound: int = 0
    effects: int = 0
    expired: int = 0
    purged_statuses: int = 0
    timers: int = 0


class Sweeper:
    """Finds pending work in the database and kicks jobs for it."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        redis: Redis | None = None,
        states: ConversationStates | None = None,
        timers: StepTimers | None = None,
        outages: Outages | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.clock = clock
        self.db_sessions = db_sessions
        self.dispatcher = dispatcher
        self.redis = redis
        self.states = states
        self.timers = timers
        self.outages = outages or Outages(clock=clock)
        self._kicked: dict[str, float] = {}
        self._holder = uuid.uuid4().hex

    async def sweep_once(
        self, *, grace_seconds: float = GRACE_SECONDS, now: datetime | None = None
    ) -> SweepReport:
        """One pass; ``grace_seconds=0`` (the start-up pass) takes everything pending.

        ``now`` (default: the clock) is when the pass looks.
        """
        now = self.clock.now() if now is None else now
        settled_before = now - timedelta(seconds=grace_seconds)
        report = SweepReport()
        async with self.db_sessions() as db_session:
            inbound = await self._stale_inbound(db_session, now, settled_before)
            outbound = await self._due_outbound(db_session, now, settled_before)
            effects = await self._due_effects(db_session, now, settled_before)
        report.inbound = len(inbound)
        report.outbound = len(outbound)
        report.effects = len(effects)
        fresh_inbound = await self._not_recently_kicked(inbound)
        await self.dispatcher.customers_received(fresh_inbound.values())
        for owner_id, customer_key in (await self._not_recently_kicked(outbound)).values():
            await self.dispatcher.deliver(owner_id, customer_key)
        await self.dispatcher.run_effects((await self._not_recently_kicked(effects)).values())
        report.timers = await self._kick_due_timers(now)
        report.expired = await self._expire_states(now)
        report.purged_statuses = await self._purge_early_statuses(now)
        if report.inbound or report.outbound or report.effects or report.expired or report.timers:
            logger.info("sweep: %s", report)
        return report

    async def run(
        self,
        stop: asyncio.Event,
        *,
        interval: float = SWEEP_INTERVAL_SECONDS,
        pause: Pause | None = None,
    ) -> None:
        """Sweep until ``stop`` is set: first a start-up pass, then one every ``interval``.

        After a failed pass the wait doubles (up to :data:`MAX_BACKOFF_SECONDS`); ``pause``
        (default: a wait that ends early when ``stop`` is set) is how the loop waits.
        """
        grace = 0.0
        failures = 0
        while not stop.is_set():
            try:
                # The start-up pass always runs (it takes what this process left behind).
                if not grace or await self.takes_turn(interval):
                    await self.sweep_once(grace_seconds=grace)
            except Exception as exc:  # a failed pass (database restarting) must not end the loop
                failures += 1
                if not self.outages.absorb(exc, what="sweep"):
                    logger.exception("sweep failed")
            else:
                failures = 0
                self.outages.recovered(DATABASE)
                grace = GRACE_SECONDS
            wait = interval
            if failures:
                wait = max(interval, retry_delay(failures, base=interval, cap=MAX_BACKOFF_SECONDS))
            if pause is not None:
                await pause(wait)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

    async def takes_turn(self, interval: float = SWEEP_INTERVAL_SECONDS) -> bool:
        """Whether this process sweeps now: with Redis, only the one process that takes the
        lease of this ``interval`` (held a little less long, so the next turn is free);
        without Redis (one process), always. Redis away: sweep anyway, kicks are harmless."""
        if self.redis is None:
            return True
        lease_ms = max(int((interval - _TURN_MARGIN_SECONDS) * 1000), 1)
        try:
            return bool(await self.redis.set(_TURN_KEY, self._holder, nx=True, px=lease_ms))
        except Exception:  # the pass meets Redis away too and reports the outage
            return True

    async def _stale_inbound(
        self, db_session: AsyncSession, now: datetime, settled_before: datetime
    ) -> dict[str, tuple[str, str]]:
        message = WhatsAppMessage
        rows = await db_session.execute(
            select(message.id, message.owner_id, message.customer_key, message.next_attempt_at)
            .where(
                message.direction == "in",
                message.status == "received",
                message.owner_id.is_not(None),
                or_(
                    and_(message.next_attempt_at.is_(None), message.created_at <= settled_before),
                    message.next_attempt_at <= now,  # a retry after a transient failure
                ),
            )
            .order_by(message.id)
            .limit(BATCH_SIZE)
        )
        found: dict[tuple[str, str], str] = {}
        for row in rows:
            assert row.owner_id is not None
            due = row.next_attempt_at.timestamp() if row.next_attempt_at else 0
            found.setdefault((row.owner_id, row.customer_key), f"in:{row.id}:{due}")
        return {key: customer_key for customer_key, key in found.items()}

    async def _due_outbound(
        self, db_session: AsyncSession, now: datetime, settled_before: datetime
    ) -> dict[str, tuple[str, str]]:
        message = WhatsAppMessage
        rows = await db_session.execute(
            select(message.id, message.owner_id, message.customer_key, message.next_attempt_at)
            .where(
                message.direction == "out",
                message.status == "queued",
                message.owner_id.is_not(None),
                message.phone_number_id.not_in(NEVER_DELIVERED_CHANNELS),
                or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
                or_(message.attempts > 0, message.created_at <= settled_before),
            )
            .order_by(message.id)
            .limit(BATCH_SIZE)
        )
        found: dict[tuple[str, str], str] = {}
        for row in rows:
            assert row.owner_id is not None
            due = row.next_attempt_at.timestamp() if row.next_attempt_at else 0
            found.setdefault((row.owner_id, row.customer_key), f"out:{row.id}:{due}")
        return {key: customer_key for customer_key, key in found.items()}

    async def _due_effects(
        self, db_session: AsyncSession, now: datetime, settled_before: datetime
    ) -> dict[str, str]:
        effect = WorkflowEffect
        rows = await db_session.execute(
            select(effect.id, effect.next_attempt_at)
            .where(
                effect.status.in_(("pending", "running")),
                effect.kind.in_(list(ATTEMPT_RUNNERS)),
                effect.next_attempt_at <= now,
                or_(effect.attempts > 0, effect.created_at <= settled_before),
            )
            .order_by(effect.next_attempt_at)
            .limit(BATCH_SIZE)
        )
        return {f"fx:{row.id}:{row.next_attempt_at.timestamp()}": row.id for row in rows}

    async def _kick_due_timers(self, now: datetime) -> int:
        """Kick ``fire_timer`` for each conversation whose step timer is due; how many."""
        if self.timers is None:
            return 0
        due = {
            f"timer:{timer.owner_id}:{timer.customer_key}:{timer.due_at.timestamp()}": (
                timer.owner_id,
                timer.customer_key,
            )
            for timer in await self.timers.due(now=now)
        }
        await self.dispatcher.fire_timers((await self._not_recently_kicked(due)).values())
        return len(due)

    async def _not_recently_kicked(self, work: dict[str, Work]) -> dict[str, Work]:
        """The part of ``work`` (keyed by kick key) not kicked in the last few seconds."""
        if not work:
            return {}
        if self.redis is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in work:
                    pipe.set(_KICK_PREFIX + key, b"1", nx=True, px=int(KICK_MEMORY_SECONDS * 1000))
                claimed = await pipe.execute()
            return {
                key: item for (key, item), fresh in zip(work.items(), claimed, strict=True) if fresh
            }
        now = self.clock.monotonic()
        self._kicked = {key: until for key, until in self._kicked.items() if until > now}
        fresh = {key: item for key, item in work.items() if key not in self._kicked}
        self._kicked.update(dict.fromkeys(fresh, now + KICK_MEMORY_SECONDS))
        return fresh

    async def _expire_states(self, now: datetime) -> int:
        if self.states is None:
            return 0
        async with self.db_sessions() as db_session:
            return await self.states.expire(db_session, now)

    async def _purge_early_statuses(self, now: datetime) -> int:
        async with self.db_sessions.begin() as db_session:
            return await purge_early_statuses(db_session, now=now)
