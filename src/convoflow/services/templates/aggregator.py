"""The statistics aggregator: counts of the message path, added up and written in batches.

Committed turns hand their :class:`~convoflow.store.counters.StatCounts` to
:meth:`StatsAggregator.add`, which never waits: the counts are merged in memory, or sent to
Redis with one ``EVAL`` (``HINCRBY`` per counter, in a task started after the commit) when
Redis is configured, so that every process's counts meet in one place. A flush — every
:data:`FLUSH_SECONDS` after counts arrive, on :meth:`StatsAggregator.close`, and on demand
(the statistics and analytics routes flush first, so they read exact numbers) — takes
everything counted so far in one atomic step and writes it in its own transaction, one
statement per table (:func:`~convoflow.store.counters.counter_statements`). A write that
fails puts the counts back for the next flush, so none is lost or counted twice; a
process that dies holds back at most what it counted since its last flush (in memory) or
the increments it had not sent yet (Redis).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.store.counters import StatCounts, counter_statements
from convoflow.store.models import WorkflowTemplate

logger = logging.getLogger(__name__)

#: How long counts wait in memory or Redis before they are written.
FLUSH_SECONDS = 2.0


class PendingCounts(Protocol):
    """Where counts wait for the next flush."""

    def add(self, counts: StatCounts) -> None:
        """Keep ``counts`` (never blocks)."""

    async def take(self) -> StatCounts:
        """Everything kept so far, removed at once (every process's, for Redis)."""

    async def give_back(self, counts: StatCounts) -> None:
        """Keep ``counts`` again: their write failed."""


class MemoryCounts:
    """Counts of this process, in memory (the embedded default)."""

    def __init__(self) -> None:
        self._pending = StatCounts()

    def add(self, counts: StatCounts) -> None:
        """Merge ``counts`` in."""
        self._pending.merge(counts)

    async def take(self) -> StatCounts:
        """Swap the pending counts for empty ones (no await in between: atomic)."""
        taken, self._pending = self._pending, StatCounts()
        return taken

    async def give_back(self, counts: StatCounts) -> None:
        """Merge ``counts`` back in."""
        self._pending.merge(counts)


class StatsAggregator:
    """Adds counts up and writes them periodically, outside the message transactions."""

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        pending: PendingCounts | None = None,
        *,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.db_sessions = db_sessions
        self.pending = pending or MemoryCounts()
        self.flush_seconds = flush_seconds
        self._flushing = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._added = 0  # counts handed in so far: tells the timer whether more arrived
        self._closed = False

    def add(self, counts: StatCounts) -> None:
        """Keep committed counts and make sure a flush follows within ``flush_seconds``."""
        self.pending.add(counts)
        self._added += 1
        if self._closed:
            return
        if self._timer is None or self._timer.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: close() writes them
                return
            self._timer = loop.create_task(self._flush_later(), name="convoflow-stats-flush")

    async def _flush_later(self) -> None:
        """Flush ``flush_seconds`` after counts arrived, again while more arrive meanwhile."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            seen = self._added
            try:
                await self.flush()
            except Exception as error:  # the counts were put back: try again later
                logger.warning("statistics not written yet (%r); kept for the next flush", error)
                continue
            if self._added == seen:
                return

    async def flush(self) -> None:
        """Write everything counted so far (in every process, with Redis) now."""
        async with self._flushing:
            counts = await self.pending.take()
            if not counts:
                return
            try:
                await self._write(counts)
            except BaseException:
                await self.pending.give_back(counts)
                raise

    async def flush_for_reading(self) -> None:
        """:meth:`flush` before statistics are read: a failure (Redis or the database
        away) leaves the counts for later and the reader sees the figures written so far."""
        try:
            await self.flush()
        except Exception as error:
            logger.info("statistics read before the latest counts were written (%r)", error)

    async def _write(self, counts: StatCounts) -> None:
        async with self.db_sessions() as db_session, db_session.begin():
            dialect = db_session.get_bind().dialect.name
            # A template deleted since its runs were counted takes its counts with it.
            wanted = counts.template_ids()
            existing = set(
                await db_session.scalars(
                    select(WorkflowTemplate.id).where(WorkflowTemplate.id.in_(wanted))
                )
            )
            if existing != wanted:
                counts = counts.only(existing)
            for statement, parameters in counter_statements(counts, dialect):
                await db_session.execute(statement, parameters)

    async def close(self) -> None:
        """Stop the timer and write what is left (the process is stopping)."""
        self._closed = True
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        try:
            await self.flush()
        except Exception as error:
            logger.warning("statistics lost at shutdown (%r)", error)
