"""Statistics gathered during a transaction, handed to the aggregator once it commits.

The message path notes what a turn did (:func:`count_run_started`,
:func:`count_run_finished`, :func:`count_steps`) on its database session. When the
transaction commits, the gathered :class:`~convoflow.store.counters.StatCounts` go to the
:class:`~convoflow.services.templates.aggregator.StatsAggregator` attached to the session
factory, which writes them later, outside any message transaction; a rollback forgets
them. A session factory without an aggregator (a one-off tool) writes them as the last
statements of the transaction instead.

Simulated runs (customer keys starting with ``sim:``, the builder's simulator) are never
counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from convoflow.store.counters import StatCounts, counter_statements

_AGGREGATOR = "convoflow.stats_aggregator"
_COUNTS = "convoflow.stat_counts"


class CountsSink(Protocol):
    """Takes committed counts without waiting (the aggregator)."""

    def add(self, counts: StatCounts) -> None:
        """Keep ``counts`` for the next flush."""


def attach_aggregator(db_sessions: async_sessionmaker[AsyncSession], sink: CountsSink) -> None:
    """Sessions made by ``db_sessions`` hand their committed counts to ``sink``."""
    info = dict(db_sessions.kw.get("info") or {})
    info[_AGGREGATOR] = sink
    db_sessions.configure(info=info)


def _counts(db_session: AsyncSession) -> StatCounts:
    counts: StatCounts = db_session.info.setdefault(_COUNTS, StatCounts())
    return counts


async def count_run_started(
    db_session: AsyncSession,
    *,
    template_id: str,
    owner_id: str,
    response_time_ms: float | None,
    now: datetime,
) -> None:
    """An owner's run started: one more use; its first-reply time (if any) joins the
    average."""
    counts = _counts(db_session)
    tally = counts.template(template_id)
    tally.started += 1
    day = counts.day(owner_id, template_id, now.date())
    day.started += 1
    if tally.last_used_at is None or now > tally.last_used_at:
        tally.last_used_at = now
    if response_time_ms is not None:
        tally.response_ms_total += response_time_ms
        tally.timed_starts += 1
        day.response_ms_total += response_time_ms
        day.timed_starts += 1


async def count_run_finished(
    db_session: AsyncSession, *, template_id: str, succeeded: bool
) -> None:
    """A run ended: completed runs over uses gives the success rate."""
    if succeeded:
        _counts(db_session).template(template_id).succeeded += 1


def count_steps(
    db_session: AsyncSession,
    *,
    template_id: str,
    owner_id: str,
    previous: str | None,
    visited: Sequence[str],
    now: datetime,
) -> None:
    """A turn of an owner's run entered ``visited`` in order, coming from ``previous``
    (None: a new run): one visit per step entered, one move per edge taken."""
    if not visited:
        return
    counts, day = _counts(db_session), now.date()
    for step in visited:
        counts.visits[(owner_id, template_id, step, day)] += 1
    path = [previous, *visited] if previous else list(visited)
    for from_step, to_step in pairwise(path):
        counts.edges[(owner_id, template_id, from_step, to_step, day)] += 1


@event.listens_for(Session, "before_commit")
def _write_without_aggregator(db_session: Session) -> None:
    """No aggregator: the counts are the last statements of the transaction."""
    if _AGGREGATOR in db_session.info:
        return
    counts: StatCounts | None = db_session.info.pop(_COUNTS, None)
    if not counts:
        return
    dialect = db_session.get_bind().dialect.name
    for statement, parameters in counter_statements(counts, dialect):
        db_session.execute(statement, parameters)


@event.listens_for(Session, "after_commit")
def _hand_to_aggregator(db_session: Session) -> None:
    counts: StatCounts | None = db_session.info.pop(_COUNTS, None)
    sink: CountsSink | None = db_session.info.get(_AGGREGATOR)
    if counts and sink is not None:
        sink.add(counts)


@event.listens_for(Session, "after_rollback")
def _forget(db_session: Session) -> None:
    """A rolled-back transaction changes no statistics."""
    db_session.info.pop(_COUNTS, None)
