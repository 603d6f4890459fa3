"""Persisting what the engine decided: outbox rows, effects, instance and statistics."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

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
    session: AsyncSession,
    *,
    owner_id: str,
    phone_number_id: str,
    customer: str,
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
            customer=customer,
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
    session.add_all(rows)
    return rows


def record_effects(
    session: AsyncSession, *, owner_id: str, instance_id: str, effects: list[Effect], now: datetime
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
    session.add_all(rows)
    return rows


def apply_to_instance(instance: WorkflowInstance, outcome: Outcome, now: datetime) -> None:
    """Move the instance along with the outcome (status, data, waiting, history)."""
    status = INSTANCE_STATUS[outcome.status]
    instance.status = status
    instance.last_interaction = now
    instance.visited_steps = [*instance.visited_steps, *outcome.visited_steps]
    if outcome.state is not None:
        instance.state_data = dict(outcome.state.variables)
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


async def count_run_started(
    session: AsyncSession, *, template_id: str, response_time_ms: float, now: datetime
) -> None:
    """A run started: one more use, and its first reply time folded into the average."""
    await session.execute(
        update(WorkflowTemplate)
        .where(WorkflowTemplate.id == template_id)
        .values(
            usage_count=WorkflowTemplate.usage_count + 1,
            last_used_at=now,
            avg_response_time_ms=(
                WorkflowTemplate.avg_response_time_ms * WorkflowTemplate.usage_count
                + response_time_ms
            )
            / (WorkflowTemplate.usage_count + 1),
            success_rate=WorkflowTemplate.success_count * 1.0 / (WorkflowTemplate.usage_count + 1),
        )
    )


async def count_run_finished(session: AsyncSession, *, template_id: str, succeeded: bool) -> None:
    """A run ended: successes (completed runs) over uses gives the success rate."""
    successes = WorkflowTemplate.success_count + (1 if succeeded else 0)
    await session.execute(
        update(WorkflowTemplate)
        .where(WorkflowTemplate.id == template_id)
        .values(
            success_count=successes,
            success_rate=case(
                (WorkflowTemplate.usage_count > 0, successes * 1.0 / WorkflowTemplate.usage_count),
                else_=0.0,
            ),
        )
    )
