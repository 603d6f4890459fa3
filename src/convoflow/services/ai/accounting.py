"""Token and cost accounting: one ``llm_calls`` row per model call, prices per owner.

A call's cost is ``prompt_tokens × input_per_million / 10⁶ + completion_tokens ×
output_per_million / 10⁶`` with the owner's price for the model, stored unrounded; a model
without a price costs 0 and its row says ``priced = false`` (the statistics list such
models). After each call the template version's ``total_tokens_used``, ``total_cost`` and
``avg_tokens_per_use`` (tokens over the runs that called the model) are recomputed from its
rows, under a lock on the template row, so concurrent calls never lose a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import LlmCall, LlmPrice, WorkflowTemplate

PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What one model call cost and how it ended."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    outcome: str  # ok | error | timeout | invalid
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """Who a model call is for: the owner who pays, the template version and the run."""

    owner_id: str
    template_id: str | None
    family_id: str | None
    template_version: int | None
    instance_id: str | None
    step_id: str | None


async def price_of(
    db_session: AsyncSession, owner_id: str, model: str
) -> tuple[float, float] | None:
    """The owner's (input, output) price per million tokens of ``model``, if set."""
    row = (
        await db_session.execute(
            select(LlmPrice.input_per_million, LlmPrice.output_per_million).where(
                LlmPrice.owner_id == owner_id, LlmPrice.model == model
            )
        )
    ).first()
    return (float(row[0]), float(row[1])) if row is not None else None


async def record_call(
    db_session: AsyncSession, run: Run, call: CallRecord, *, now: datetime
) -> LlmCall:
    """Write the call's row and bring the template's totals up to date (caller commits)."""
    price = await price_of(db_session, run.owner_id, call.model)
    cost = 0.0
    if price is not None:
        cost = (call.prompt_tokens * price[0] + call.completion_tokens * price[1]) / PER_MILLION
    row = LlmCall(
        owner_id=run.owner_id,
        template_id=run.template_id,
        family_id=run.family_id,
        template_version=run.template_version,
        instance_id=run.instance_id,
        step_id=run.step_id,
        model=call.model,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        total_tokens=call.prompt_tokens + call.completion_tokens,
        cost=cost,
        priced=price is not None,
        latency_ms=call.latency_ms,
        outcome=call.outcome,
        error=call.error,
        created_at=now,
    )
    db_session.add(row)
    await db_session.flush()
    if run.family_id is not None:
        await _refresh_template_totals(db_session, run.family_id)
    return row


async def _refresh_template_totals(db_session: AsyncSession, family_id: str) -> None:
    """Recompute the family's totals from its rows (every version shows the same, as the
    other statistics carried from version to version do)."""
    await db_session.execute(
        select(WorkflowTemplate.id)
        .where(WorkflowTemplate.family_id == family_id)
        .order_by(WorkflowTemplate.id)
        .with_for_update()
    )
    tokens, cost, runs = (
        await db_session.execute(
            select(
                func.coalesce(func.sum(LlmCall.total_tokens), 0),
                func.coalesce(func.sum(LlmCall.cost), 0.0),
                func.count(distinct(LlmCall.instance_id)),
            ).where(LlmCall.family_id == family_id)
        )
    ).one()
    await db_session.execute(
        update(WorkflowTemplate)
        .where(WorkflowTemplate.family_id == family_id)
        .values(
            total_tokens_used=int(tokens),
            total_cost=float(cost),
            avg_tokens_per_use=int(tokens) / runs if runs else 0.0,
        )
    )


async def conversation_tokens(db_session: AsyncSession, instance_id: str) -> int:
    """The tokens a run has used so far."""
    used = await db_session.scalar(
        select(func.coalesce(func.sum(LlmCall.total_tokens), 0)).where(
            LlmCall.instance_id == instance_id
        )
    )
    return int(used or 0)


def day_start(now: datetime) -> datetime:
    """Midnight (UTC) of ``now``'s day: where a daily cost cap starts counting."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def cost_today(db_session: AsyncSession, family_id: str, now: datetime) -> float:
    """What a template (all its versions) has cost since midnight UTC."""
    start = day_start(now)
    spent = await db_session.scalar(
        select(func.coalesce(func.sum(LlmCall.cost), 0.0)).where(
            LlmCall.family_id == family_id,
            LlmCall.created_at >= start,
            LlmCall.created_at < start + timedelta(days=1),
        )
    )
    return float(spent or 0.0)


@dataclass(slots=True)
class LlmStats:
    """A template family's model use: totals, calls, a daily breakdown (UTC days, the last
    :data:`DAILY_DAYS`) and the models that had no price."""

    total_tokens_used: int = 0
    total_cost: float = 0.0
    avg_tokens_per_use: float = 0.0
    llm_calls: int = 0
    daily: list[dict[str, object]] = field(default_factory=list)
    unpriced_models: list[str] = field(default_factory=list)


DAILY_DAYS = 30


async def llm_statistics(
    db_session: AsyncSession, family_id: str, *, now: datetime, owner_id: str | None = None
) -> LlmStats:
    """The model use of a template family (of one owner's runs when ``owner_id`` is given)."""
    condition = [LlmCall.family_id == family_id]
    if owner_id is not None:
        condition.append(LlmCall.owner_id == owner_id)
    tokens, cost, runs, calls = (
        await db_session.execute(
            select(
                func.coalesce(func.sum(LlmCall.total_tokens), 0),
                func.coalesce(func.sum(LlmCall.cost), 0.0),
                func.count(distinct(LlmCall.instance_id)),
                func.count(LlmCall.id),
            ).where(*condition)
        )
    ).one()
    unpriced = await db_session.scalars(
        select(LlmCall.model).where(*condition, LlmCall.priced.is_(False)).distinct()
    )
    recent = await db_session.execute(
        select(LlmCall.created_at, LlmCall.total_tokens, LlmCall.cost).where(
            *condition, LlmCall.created_at >= day_start(now) - timedelta(days=DAILY_DAYS - 1)
        )
    )
    days: dict[str, dict[str, object]] = {}
    for created_at, day_tokens, day_cost in recent:
        key = created_at.date().isoformat()
        entry = days.setdefault(key, {"day": key, "calls": 0, "tokens": 0, "cost": 0.0})
        entry["calls"] = int(entry["calls"]) + 1  # type: ignore[call-overload]
        entry["tokens"] = int(entry["tokens"]) + int(day_tokens)  # type: ignore[call-overload]
        entry["cost"] = float(entry["cost"]) + float(day_cost)  # type: ignore[arg-type]
    return LlmStats(
        total_tokens_used=int(tokens),
        total_cost=float(cost),
        avg_tokens_per_use=int(tokens) / int(runs) if runs else 0.0,
        llm_calls=int(calls),
        daily=[days[key] for key in sorted(days)],
        unpriced_models=sorted(unpriced),
    )
