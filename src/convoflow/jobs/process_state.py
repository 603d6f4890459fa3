"""What a metrics scrape reads from outside the process (:class:`~convoflow.metrics.ProcessState`).

Two cheap queries on one engine-level connection (outside the session gate, like
``/readyz``): the backlog's sizes and its ages (:mod:`convoflow.store.backlog`); one Lua call
for the live heartbeats; the pool and the session gate are read in memory. A service that
does not answer within the time limit leaves its gauges out of that scrape.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from convoflow.clock import Clock
from convoflow.jobs.heartbeat import Heartbeats
from convoflow.jobs.outbox_claims import NEVER_DELIVERED_CHANNELS
from convoflow.metrics import ProcessState, StateReader
from convoflow.store.backlog import BacklogAges, BacklogCounts, backlog_ages, backlog_counts
from convoflow.store.database import pool_capacity, pool_in_use, session_gate

__all__ = ["state_reader"]

#: How long a scrape waits for each of the database and Redis.
READ_TIMEOUT_SECONDS = 2.0


def state_reader(
    *,
    engine: AsyncEngine,
    db_sessions: async_sessionmaker[AsyncSession],
    heartbeats: Heartbeats,
    clock: Clock,
    within: float = READ_TIMEOUT_SECONDS,
) -> StateReader:
    """A coroutine function reading this process's :class:`ProcessState` now."""
    gate = session_gate(db_sessions)

    async def read() -> ProcessState:
        backlog, workers = await asyncio.gather(
            _backlog(engine, clock, within), _workers_alive(heartbeats, within)
        )
        counts, ages = backlog or (None, None)
        return ProcessState(
            pending_inbound=counts.inbound if counts else None,
            queued_outbound=counts.outbound if counts else None,
            inbound_lag_seconds=ages.inbound if ages else None,
            outbox_lag_seconds=ages.outbound if ages else None,
            workers_alive=workers,
            db_pool_in_use=pool_in_use(engine),
            db_pool_capacity=pool_capacity(engine),
            db_sessions_open=gate.held if gate else None,
            db_session_slots=gate.slots if gate else None,
        )

    return read


async def _backlog(
    engine: AsyncEngine, clock: Clock, within: float
) -> tuple[BacklogCounts, BacklogAges] | None:
    # Whatever fails (the database away, a slow answer) only leaves these gauges out.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(within), engine.connect() as connection:
            counts = await backlog_counts(connection, never_delivered=NEVER_DELIVERED_CHANNELS)
            ages = await backlog_ages(
                connection, now=clock.now(), never_delivered=NEVER_DELIVERED_CHANNELS
            )
            return counts, ages
    return None


async def _workers_alive(heartbeats: Heartbeats, within: float) -> int | None:
    with contextlib.suppress(Exception):  # Redis away: unknown
        async with asyncio.timeout(within):
            return await heartbeats.alive()
    return None
