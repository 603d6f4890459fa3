"""What ``GET /api/analytics/templates/{id}`` reports, computed in SQL.

Every figure covers the caller's own runs (their customers; built-in and public templates
are run by many owners) of every version of the template, between two UTC days inclusive,
leaving out simulated runs (customer keys starting with ``sim:``):

* **runs** — instances started in the range, by their status now;
* **completion by day** — per day, the runs started that day and how many of them have
  completed;
* **funnel** — step visits and moves along each edge, summed from the statistics
  aggregator's daily counters (never from the runs themselves);
* **messages** — outbound messages created in the range, by how far they got (``sent``
  counts every message Meta accepted, ``delivered`` those that reached the phone, ``read``
  those read; each includes the later ones) and the most frequent error codes of the
  failed ones;
* **average response** — seconds from the customer's message to the run's first reply,
  from the daily counters;
* **LLM** — tokens and cost of the model calls (zero until templates call a model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Executable, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import InvalidData
from convoflow.services.access.callers import Caller, latest_of_family, visible_template
from convoflow.store.days import as_date, utc_day
from convoflow.store.local_channels import real_customer
from convoflow.store.models import (
    LlmCall,
    StepEdgeCount,
    StepVisitCount,
    TemplateDayCount,
    WhatsAppMessage,
    WorkflowInstance,
    WorkflowTemplate,
)

#: The longest range one report covers.
MAX_DAYS = 366
#: The range when none is given: the last 30 days.
DEFAULT_DAYS = 30
#: How many error codes ``top_errors`` lists.
TOP_ERRORS = 5
RUN_STATUSES = ("completed", "failed", "cancelled")
DELIVERY = ("sent", "delivered", "read")


@dataclass(frozen=True, slots=True)
class DayRuns:
    """Runs started on one day and how many of them completed."""

    day: date
    started: int = 0
    completed: int = 0

    @property
    def rate(self) -> float:
        """Completed over started (0 when none started)."""
        return self.completed / self.started if self.started else 0.0


@dataclass(slots=True)
class TemplateAnalytics:
    """The report (see the module docstring)."""

    template: WorkflowTemplate
    first_day: date
    last_day: date
    runs: dict[str, int] = field(default_factory=dict)
    days: list[DayRuns] = field(default_factory=list)
    visits: list[tuple[str, int]] = field(default_factory=list)
    edges: list[tuple[str, str, int]] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=dict)
    top_errors: list[tuple[int | None, int]] = field(default_factory=list)
    avg_response_seconds: float | None = None
    llm_tokens: int = 0
    llm_cost: float = 0.0


def date_range(first: date | None, last: date | None, *, today: date) -> tuple[date, date]:
    """The report's days: ``last`` defaults to today, ``first`` to 30 days before it."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidData("from", "must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidData("from", f"the range may cover at most {MAX_DAYS} days")
    return first, last


async def template_analytics(
    db_session: AsyncSession, *, caller: Caller, template_id: str, first_day: date, last_day: date
) -> TemplateAnalytics:
    """The report of a template the caller may see (any version id names the template)."""
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
        report = TemplateAnalytics(latest, first_day, last_day)
        query = _Query(db_session, caller.id, latest.family_id, first_day, last_day)
        await _runs(query, report)
        await _funnel(query, report, _step_order(latest.menu_structure))
        await _messages(query, report)
        await _response_time(query, report)
        await _llm(query, report)
    return report


class _Query:
    """The report's filters, shared by its queries."""

    def __init__(
        self, db_session: AsyncSession, owner_id: str, family_id: str, first: date, last: date
    ) -> None:
        self.db_session = db_session
        self.owner_id = owner_id
        self.dialect = db_session.get_bind().dialect.name
        self.versions = select(WorkflowTemplate.id).where(WorkflowTemplate.family_id == family_id)
        self.first, self.last = first, last
        self.since = datetime.combine(first, time.min, UTC)
        self.until = datetime.combine(last + timedelta(days=1), time.min, UTC)

    async def rows(self, query: Executable) -> list[Any]:
        return list((await self.db_session.execute(query)).all())


async def _runs(query: _Query, report: TemplateAnalytics) -> None:
    instance = WorkflowInstance
    day = utc_day(instance.started_at, query.dialect)
    completed = func.sum(case((instance.status == "completed", 1), else_=0))
    by_day = (
        select(day.label("day"), instance.status, func.count(), completed)
        .where(
            instance.owner_id == query.owner_id,
            instance.template_id.in_(query.versions),
            instance.started_at >= query.since,
            instance.started_at < query.until,
            real_customer(instance.user_id),
        )
        .group_by(day, instance.status)
    )
    runs = dict.fromkeys(("started", *RUN_STATUSES), 0)
    per_day: dict[date, list[int]] = {}
    for day_value, status, count, done in await query.rows(by_day):
        runs["started"] += count
        if status in runs:
            runs[status] += count
        totals = per_day.setdefault(as_date(day_value), [0, 0])
        totals[0] += count
        totals[1] += int(done or 0)
    report.runs = runs
    report.days = [
        DayRuns(day, *per_day.get(day, (0, 0)))
        for day in (
            query.first + timedelta(days=n) for n in range((query.last - query.first).days + 1)
        )
    ]


async def _funnel(query: _Query, report: TemplateAnalytics, order: list[str]) -> None:
    visits_query = (
        select(StepVisitCount.step_id, func.sum(StepVisitCount.visits))
        .where(*_counter_filter(query, StepVisitCount))
        .group_by(StepVisitCount.step_id)
    )
    visits = {str(step): int(total) for step, total in await query.rows(visits_query)}
    steps = [*order, *sorted(set(visits) - set(order), key=lambda step: -visits[step])]
    report.visits = [(step, visits.get(step, 0)) for step in steps]
    edge = StepEdgeCount
    edges_query = (
        select(edge.from_step, edge.to_step, func.sum(edge.count))
        .where(*_counter_filter(query, edge))
        .group_by(edge.from_step, edge.to_step)
    )
    edges = [(str(a), str(b), int(n)) for a, b, n in await query.rows(edges_query)]
    report.edges = sorted(edges, key=lambda item: (-item[2], item[0], item[1]))


def _counter_filter(query: _Query, table: Any) -> list[Any]:
    return [
        table.owner_id == query.owner_id,
        table.template_id.in_(query.versions),
        table.day >= query.first,
        table.day <= query.last,
    ]


async def _messages(query: _Query, report: TemplateAnalytics) -> None:
    message = WhatsAppMessage
    scope = and_(
        message.owner_id == query.owner_id,
        message.direction == "out",
        message.template_id.in_(query.versions),
        message.created_at >= query.since,
        message.created_at < query.until,
        real_customer(message.customer_key),
    )
    by_status = dict(
        (str(status), int(count))
        for status, count in await query.rows(
            select(message.status, func.count()).where(scope).group_by(message.status)
        )
    )
    report.messages = {
        name: sum(by_status.get(later, 0) for later in DELIVERY[DELIVERY.index(name) :])
        for name in DELIVERY
    }
    report.messages["failed"] = by_status.get("failed", 0)
    errors = (
        select(message.error_code, func.count().label("n"))
        .where(scope, message.status == "failed")
        .group_by(message.error_code)
        .order_by(func.count().desc(), message.error_code)
        .limit(TOP_ERRORS)
    )
    report.top_errors = [(code, int(count)) for code, count in await query.rows(errors)]


async def _response_time(query: _Query, report: TemplateAnalytics) -> None:
    totals = select(
        func.sum(TemplateDayCount.response_ms_total), func.sum(TemplateDayCount.timed_starts)
    ).where(*_counter_filter(query, TemplateDayCount))
    total_ms, timed = (await query.rows(totals))[0]
    if timed:
        report.avg_response_seconds = float(total_ms or 0.0) / int(timed) / 1000.0


def _step_order(graph: dict[str, Any]) -> list[str]:
    steps = graph.get("steps") if isinstance(graph, dict) else None
    return [str(step["id"]) for step in steps or [] if isinstance(step, dict) and "id" in step]


async def _llm(query: _Query, report: TemplateAnalytics) -> None:
    """Tokens and cost of the template's model calls in the range (unrounded, from
    ``llm_calls``)."""
    call = LlmCall
    totals = select(func.coalesce(func.sum(call.total_tokens), 0), func.sum(call.cost)).where(
        call.owner_id == query.owner_id,
        call.template_id.in_(query.versions),
        call.created_at >= query.since,
        call.created_at < query.until,
    )
    tokens, cost = (await query.rows(totals))[0]
    report.llm_tokens, report.llm_cost = int(tokens or 0), float(cost or 0.0)
