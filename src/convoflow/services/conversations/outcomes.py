"""Persisting what the engine decided: outbox rows, effects, instance and statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from convoflow.engine.outcome import Effect, EndAction, FlowStatus, OutboundMessage, Outcome
from convoflow.store.models import (
    WhatsAppMessage,
    WorkflowEffect,
    WorkflowInstance,
    WorkflowTemplate,
)

#: Instance status for each flow status.
INSTANCE_STATUS = {
    FlowStatus.WAITING_INPUT: "active",
    FlowStatus.WAITING_EFFECT: "waiting",
    FlowStatus.HANDOFF: "waiting",
    FlowStatus.COMPLETED: "completed",
    FlowStatus.FAILED: "failed",
    FlowStatus.CANCELLED: "cancelled",
}
FINISHED = frozenset({"completed", "failed", "cancelled"})


def queue_messages(
    db_session: AsyncSession,
    *,
    owner_id: str,
    phone_number_id: str,
    customer_key: str,
    messages: list[OutboundMessage],
    template_id: str | None,
    instance_id: str | None,
    now: datetime,
) -> list[WhatsAppMessage]:
    """Add ``queued`` outbox rows, in the order the engine produced them."""
    rows = [
        WhatsAppMessage(
            owner_id=owner_id,
            phone_number_id=phone_number_id,
            customer_key=customer_key,
            direction="out",
            type=message.type,
            payload=message.body,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            template_id=template_id,
            step_id=message.step_id,
            instance_id=instance_id,
            created_at=now,
        )
        for message in messages
    ]
    db_session.add_all(rows)
    return rows


def record_effects(
    db_session: AsyncSession,
    *,
    owner_id: str,
    instance_id: str,
    effects: list[Effect],
    now: datetime,
) -> list[WorkflowEffect]:
    """Store the effects as durable jobs (run by the job runner after the commit)."""
    rows = [
        WorkflowEffect(
            owner_id=owner_id,
            instance_id=instance_id,
            effect_id=effect.effect_id,
            kind="end_action" if isinstance(effect, EndAction) else "http",
            spec=asdict(effect),
            status="pending",
            next_attempt_at=now,
        )
        for effect in effects
    ]
    db_session.add_all(rows)
    return rows


def apply_to_instance(instance: WorkflowInstance, outcome: Outcome, now: datetime) -> None:
    """Move the instance along with the outcome (status, data, waiting, history)."""
    status = INSTANCE_STATUS[outcome.status]
    instance.status = status
    instance.last_interaction = now
    instance.visited_steps = [*instance.visited_steps, *outcome.visited_steps]
    if outcome.variables or outcome.state is not None:
        instance.state_data = dict(outcome.variables)
    if outcome.state is not None:
        instance.current_step = outcome.state.current_step
        instance.waiting_for = outcome.state.waiting_effect or (
            "agent" if outcome.status is FlowStatus.HANDOFF else None
        )
    else:
        instance.waiting_for = None
    instance.pending_dependencies = (
        [outcome.state.waiting_effect] if outcome.state and outcome.state.waiting_effect else []
    )
    if status in FINISHED:
        instance.completed_at = now
        if outcome.error:
            instance.error = outcome.error


@dataclass(slots=True)
class _TemplateTally:
    """Statistics changes of one template gathered during a transaction."""

    started: int = 0
    response_ms_total: float = 0.0
    timed_starts: int = 0
    succeeded: int = 0
    last_used_at: datetime | None = None


_TALLY_KEY = "convoflow.template_tally"


def _tally(db_session: AsyncSession, template_id: str) -> _TemplateTally:
    tallies: dict[str, _TemplateTally] = db_session.info.setdefault(_TALLY_KEY, {})
    return tallies.setdefault(template_id, _TemplateTally())


async def count_run_started(
    db_session: AsyncSession,
    *,
    template_id: str,
    response_time_ms: float | None,
    now: datetime,
) -> None:
    """A run started: one more use; its first-reply time (if any) joins the average.

    The change is written at commit time (see :func:`_write_tallies`), not now.
    """
    tally = _tally(db_session, template_id)
    tally.started += 1
    tally.last_used_at = now
    if response_time_ms is not None:
        tally.response_ms_total += response_time_ms
        tally.timed_starts += 1


async def count_run_finished(
    db_session: AsyncSession, *, template_id: str, succeeded: bool
) -> None:
    """A run ended: completed runs over uses gives the success rate (written at commit)."""
    if succeeded:
        _tally(db_session, template_id).succeeded += 1


@event.listens_for(Session, "before_commit")
def _write_tallies(db_session: Session) -> None:
    """Apply the gathered statistics as the last statements of the transaction.

    Every run of a popular template updates the same row; updating it just before the
    commit holds that row's lock for the commit only, instead of for the whole processing
    of a message, so concurrent conversations do not queue behind each other.
    """
    tallies: dict[str, _TemplateTally] | None = db_session.info.pop(_TALLY_KEY, None)
    for template_id, tally in sorted((tallies or {}).items()):
        table = WorkflowTemplate
        uses = table.usage_count + tally.started
        successes = table.success_count + tally.succeeded
        values: dict[str, Any] = {
            "usage_count": uses,
            "success_count": successes,
            "success_rate": case((uses > 0, successes * 1.0 / uses), else_=0.0),
        }
        if tally.last_used_at is not None:
            values["last_used_at"] = tally.last_used_at
        if tally.timed_starts:
            values["avg_response_time_ms"] = (
                table.avg_response_time_ms * table.usage_count + tally.response_ms_total
            ) / (table.usage_count + tally.timed_starts)
        db_session.execute(update(table).where(table.id == template_id).values(**values))


@event.listens_for(Session, "after_rollback")
def _drop_tallies(db_session: Session) -> None:
    """A rolled-back transaction changes no statistics."""
    db_session.info.pop(_TALLY_KEY, None)


def new_instance(
    *,
    owner_id: str,
    template_id: str,
    customer_key: str | None,
    conversation_id: str | None,
    contact_id: str | None,
    now: datetime,
    current_step: str | None = None,
    state_data: dict[str, Any] | None = None,
) -> WorkflowInstance:
    """A new ``active`` workflow instance (the one place instances are built).

    ``customer_key`` is who it runs for (``user_id``); ``conversation_id`` names the live
    conversation it drives, if any.
    """
    return WorkflowInstance(
        owner_id=owner_id,
        template_id=template_id,
        conversation_id=conversation_id,
        user_id=customer_key,
        contact_id=contact_id,
        status="active",
        current_step=current_step,
        state_data=dict(state_data or {}),
        pending_dependencies=[],
        visited_steps=[],
        started_at=now,
        last_interaction=now,
    )


#: Effect kind of a workflow dependency call (see :mod:`convoflow.services.workflows.dependencies`).
DEPENDENCY_KIND = "dependency"


async def finish(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    status: str,
    *,
    now: datetime,
    error: str | None = None,
) -> None:
    """End the instance as ``failed`` or ``cancelled`` and abandon its queued dependency calls."""
    if instance.status in FINISHED:
        return
    instance.status = status
    instance.completed_at = now
    instance.last_interaction = now
    instance.waiting_for = None
    instance.pending_dependencies = []
    if error:
        instance.error = error
    await count_run_finished(db_session, template_id=instance.template_id, succeeded=False)
    await abandon_dependency_calls(db_session, instance.id, reason=f"instance {status}")


async def abandon_dependency_calls(
    db_session: AsyncSession, instance_id: str, *, reason: str, name: str | None = None
) -> None:
    """Queued dependency calls that no longer matter are not run (running ones are ignored)."""
    condition = [
        WorkflowEffect.instance_id == instance_id,
        WorkflowEffect.kind == DEPENDENCY_KIND,
        WorkflowEffect.status == "pending",
    ]
    if name is not None:
        prefix = f"{DEPENDENCY_KIND}:{name}:"
        condition.append(WorkflowEffect.effect_id.startswith(prefix, autoescape=True))
    await db_session.execute(
        update(WorkflowEffect)
        .where(*condition)
        .values(status="failed", error=f"not run: {reason}")
        .execution_options(synchronize_session=False)
    )
