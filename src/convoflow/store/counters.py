"""Statistics counts of the message path and the statements that add them to the tables.

A :class:`StatCounts` is what some runs did: per template version, the runs started (with
their first-reply times) and succeeded and when one was last used; per owner, template,
step and day, the visits; per owner, template, edge and day, the moves along it; per owner,
template and day, the starts and first-reply times. :func:`counter_statements` turns it
into one statement per table — an executemany UPDATE of ``workflow_templates`` and one
multi-row ``INSERT ... ON CONFLICT DO UPDATE`` that adds to the existing sums — with rows in key
order, so that concurrent flushes lock rows in the same order and never deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Executable, Float, Integer, String, Table, bindparam, case, update
from sqlalchemy.dialects import postgresql, sqlite

from convoflow.store.models import StepEdgeCount, StepVisitCount, TemplateDayCount, WorkflowTemplate
from convoflow.store.types import UTCDateTime

#: Rows per INSERT statement (well within SQLite's bound-parameter limit).
CHUNK = 400


@dataclass(slots=True)
class TemplateTally:
    """Changes to one template version's own counters."""

    started: int = 0
    succeeded: int = 0
    timed_starts: int = 0
    response_ms_total: float = 0.0
    last_used_at: datetime | None = None

    def merge(self, other: TemplateTally) -> None:
        """Add ``other`` to this tally."""
        self.started += other.started
        self.succeeded += other.succeeded
        self.timed_starts += other.timed_starts
        self.response_ms_total += other.response_ms_total
        if other.last_used_at is not None and (
            self.last_used_at is None or other.last_used_at > self.last_used_at
        ):
            self.last_used_at = other.last_used_at


@dataclass(slots=True)
class DayTally:
    """Runs of a template version started on one day, and their first-reply times."""

    started: int = 0
    timed_starts: int = 0
    response_ms_total: float = 0.0

    def merge(self, other: DayTally) -> None:
        """Add ``other`` to this tally."""
        self.started += other.started
        self.timed_starts += other.timed_starts
        self.response_ms_total += other.response_ms_total


@dataclass(slots=True)
class StatCounts:
    """Counts not yet written (see the module docstring)."""

    templates: dict[str, TemplateTally] = field(default_factory=dict)
    visits: Counter[tuple[str, str, str, date]] = field(default_factory=Counter)
    edges: Counter[tuple[str, str, str, str, date]] = field(default_factory=Counter)
    days: dict[tuple[str, str, date], DayTally] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.templates or self.visits or self.edges or self.days)

    def template(self, template_id: str) -> TemplateTally:
        """The tally of a template version (created empty)."""
        return self.templates.setdefault(template_id, TemplateTally())

    def day(self, owner_id: str, template_id: str, day: date) -> DayTally:
        """An owner's day tally of a template version (created empty)."""
        return self.days.setdefault((owner_id, template_id, day), DayTally())

    def template_ids(self) -> set[str]:
        """Every template version counted."""
        return {
            *self.templates,
            *(key[1] for key in self.visits),
            *(key[1] for key in self.edges),
            *(key[1] for key in self.days),
        }

    def only(self, template_ids: set[str]) -> StatCounts:
        """The counts of these template versions only."""
        kept = StatCounts()
        kept.templates = {k: v for k, v in self.templates.items() if k in template_ids}
        kept.visits = Counter({k: v for k, v in self.visits.items() if k[1] in template_ids})
        kept.edges = Counter({k: v for k, v in self.edges.items() if k[1] in template_ids})
        kept.days = {k: v for k, v in self.days.items() if k[1] in template_ids}
        return kept

    def merge(self, other: StatCounts) -> None:
        """Add everything of ``other`` to these counts."""
        for template_id, tally in other.templates.items():
            self.template(template_id).merge(tally)
        self.visits.update(other.visits)
        self.edges.update(other.edges)
        for (owner_id, template_id, day), day_tally in other.days.items():
            self.day(owner_id, template_id, day).merge(day_tally)


def counter_statements(
    counts: StatCounts, dialect: str
) -> Iterator[tuple[Executable, list[dict[str, Any]] | None]]:
    """The statements (with executemany parameters, if any) that add ``counts``."""
    if counts.templates:
        yield (
            _template_update(),
            [
                {
                    "t_id": template_id,
                    "t_started": tally.started,
                    "t_succeeded": tally.succeeded,
                    "t_timed": tally.timed_starts,
                    "t_ms": tally.response_ms_total,
                    "t_last": tally.last_used_at,
                }
                for template_id, tally in sorted(counts.templates.items())
            ],
        )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    visits = [
        {"owner_id": o, "template_id": t, "step_id": s, "day": d, "visits": n}
        for (o, t, s, d), n in sorted(counts.visits.items())
        if n
    ]
    for rows in _chunks(visits):
        statement = insert(StepVisitCount).values(rows)
        yield (
            statement.on_conflict_do_update(
                index_elements=["owner_id", "template_id", "step_id", "day"],
                set_={"visits": StepVisitCount.visits + statement.excluded.visits},
            ),
            None,
        )
    edges = [
        {"owner_id": o, "template_id": t, "from_step": a, "to_step": b, "day": d, "count": n}
        for (o, t, a, b, d), n in sorted(counts.edges.items())
        if n
    ]
    for rows in _chunks(edges):
        statement = insert(StepEdgeCount).values(rows)
        yield (
            statement.on_conflict_do_update(
                index_elements=["owner_id", "template_id", "from_step", "to_step", "day"],
                set_={"count": StepEdgeCount.count + statement.excluded["count"]},
            ),
            None,
        )
    days = [
        {
            "owner_id": o,
            "template_id": t,
            "day": d,
            "started": tally.started,
            "timed_starts": tally.timed_starts,
            "response_ms_total": tally.response_ms_total,
        }
        for (o, t, d), tally in sorted(counts.days.items())
    ]
    for rows in _chunks(days):
        statement = insert(TemplateDayCount).values(rows)
        excluded = statement.excluded
        yield (
            statement.on_conflict_do_update(
                index_elements=["owner_id", "template_id", "day"],
                set_={
                    "started": TemplateDayCount.started + excluded.started,
                    "timed_starts": TemplateDayCount.timed_starts + excluded.timed_starts,
                    "response_ms_total": TemplateDayCount.response_ms_total
                    + excluded.response_ms_total,
                },
            ),
            None,
        )


def _template_update() -> Executable:
    """Add a tally to a template row: uses, successes and the rate, the average first-reply
    time (weighted by the uses before), and the latest use (never moved back)."""
    table = WorkflowTemplate.__table__
    assert isinstance(table, Table)
    started = bindparam("t_started", type_=Integer())
    succeeded = bindparam("t_succeeded", type_=Integer())
    timed = bindparam("t_timed", type_=Integer())
    total_ms = bindparam("t_ms", type_=Float())
    last = bindparam("t_last", type_=UTCDateTime())
    uses = table.c.usage_count + started
    successes = table.c.success_count + succeeded
    return (
        update(table)
        .where(table.c.id == bindparam("t_id", type_=String()))
        .values(
            usage_count=uses,
            success_count=successes,
            success_rate=case((uses > 0, successes * 1.0 / uses), else_=0.0),
            avg_response_time_ms=case(
                (
                    timed > 0,
                    (table.c.avg_response_time_ms * table.c.usage_count + total_ms)
                    / (table.c.usage_count + timed),
                ),
                else_=table.c.avg_response_time_ms,
            ),
            last_used_at=case(
                (last.is_(None), table.c.last_used_at),
                (table.c.last_used_at.is_(None), last),
                (table.c.last_used_at < last, last),
                else_=table.c.last_used_at,
            ),
        )
    )


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]
