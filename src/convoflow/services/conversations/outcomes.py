"""Persisting what the engine decided: outbox rows, effects and the instance.

Statistics are gathered in :mod:`convoflow.services.templates.tallies`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import (
    Effect,
    EndAction,
    FlowStatus,
    LlmTurn,
    OutboundMessage,
    Outcome,
)
from convoflow.services.live import LiveEvent, announce, message_event
from convoflow.services.templates.tallies import count_run_finished
from convoflow.store.local_channels import is_simulated
from convoflow.store.models import WhatsAppMessage, WorkflowEffect, WorkflowInstance
from convoflow.store.types import new_id

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

# The table itself, not the mapped class: a statement on it is plain Core (no autoflush).
_OUTBOX: Table = WhatsAppMessage.__table__  # type: ignore[assignment]


#: Where a batch of turns collects its outbox rows (see :func:`defer_outbox`).
_DEFERRED_OUTBOX = "convoflow.outbox.deferred"


@dataclass(slots=True)
class _DeferredRows:
    rows: list[dict[str, Any]] = field(default_factory=list)
    # What to announce once the rows have ids, in order: an event, or a row's index.
    announcements: list[LiveEvent | int] = field(default_factory=list)


async def queue_messages(
    db_session: AsyncSession,
    *,
    owner_id: str,
    phone_number_id: str,
    customer_key: str,
    messages: list[OutboundMessage],
    template_id: str | None,
    instance_id: str | None,
    now: datetime,
    announce_messages: bool = False,
) -> int:
    """Insert ``queued`` outbox rows, in the order the engine produced them; how many.

    One Core statement with bound parameters (no ORM unit of work: this runs for every
    turn), so it neither flushes nor waits for a flush of anything else on the session.
    Inside :func:`defer_outbox` the rows wait for :func:`write_deferred_outbox` instead, with
    those of the batch's other turns. ``announce_messages`` tells the inbox about each row.
    """
    if not messages:
        return 0
    rows = [
        {
            "owner_id": owner_id,
            "phone_number_id": phone_number_id,
            "customer": customer_key,
            "direction": "out",
            "type": message.type,
            "payload": message.body,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "template_id": template_id,
            "step_id": message.step_id,
            "instance_id": instance_id,
            "created_at": now,
            "updated_at": now,
        }
        for message in messages
    ]
    deferred: _DeferredRows | None = db_session.info.get(_DEFERRED_OUTBOX)
    if deferred is not None:
        if announce_messages:
            first = len(deferred.rows)
            deferred.announcements.extend(range(first, first + len(rows)))
        deferred.rows.extend(rows)
        return len(rows)
    ids = await _insert(db_session, rows)
    if announce_messages:
        announce(db_session, *map(_queued_event, rows, ids))
    return len(rows)


def defer_outbox(db_session: AsyncSession) -> None:
    """Collect the outbox rows of the turns that follow on this session, to be written by
    :func:`write_deferred_outbox` in one statement (a batch of turns: one insert, not one
    per turn)."""
    db_session.info[_DEFERRED_OUTBOX] = _DeferredRows()


async def write_deferred_outbox(db_session: AsyncSession) -> None:
    """Write the collected rows (after a flush: they name the batch's new instances)."""
    deferred: _DeferredRows | None = db_session.info.pop(_DEFERRED_OUTBOX, None)
    if deferred is None:
        return
    ids: list[int] = []
    if deferred.rows:
        await db_session.flush()
        ids = await _insert(db_session, deferred.rows)
    announce(
        db_session,
        *(
            _queued_event(deferred.rows[item], ids[item]) if isinstance(item, int) else item
            for item in deferred.announcements
        ),
    )


def announce_in_turn_order(db_session: AsyncSession, *events: LiveEvent) -> None:
    """:func:`~convoflow.services.live.announce`, in order with the messages queued before
    (inside :func:`defer_outbox` those are announced once written)."""
    deferred: _DeferredRows | None = db_session.info.get(_DEFERRED_OUTBOX)
    if deferred is None:
        announce(db_session, *events)
    else:
        deferred.announcements.extend(events)


async def _insert(db_session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    inserted = await db_session.execute(
        _OUTBOX.insert().returning(_OUTBOX.c.id, sort_by_parameter_order=True), rows
    )
    return list(inserted.scalars())


def _queued_event(row: dict[str, Any], message_id: int) -> LiveEvent:
    return message_event(
        row["owner_id"],
        customer_key=row["customer"],
        message_id=message_id,
        direction="out",
        status="queued",
    )


def record_effects(
    db_session: AsyncSession,
    *,
    owner_id: str,
    instance_id: str,
    effects: list[Effect],
    now: datetime,
    hold_model_turns: timedelta = timedelta(0),
) -> list[WorkflowEffect]:
    """Store the effects as durable jobs (run by the job runner after the commit).

    A model turn is due ``hold_model_turns`` from now: the customer's messages that arrive
    meanwhile are held in the conversation and go to the model with it (the debounce).
    """
    rows = [
        WorkflowEffect(
            owner_id=owner_id,
            instance_id=instance_id,
            effect_id=effect.effect_id,
            kind=effect_kind(effect),
            spec=asdict(effect),
            status="pending",
            next_attempt_at=now + hold_model_turns if isinstance(effect, LlmTurn) else now,
        )
        for effect in effects
    ]
    db_session.add_all(rows)
    return rows


def effect_kind(effect: Effect) -> str:
    """The ``workflow_effects.kind`` of an effect (which runner and result handler it gets)."""
    if isinstance(effect, EndAction):
        return "end_action"
    if isinstance(effect, LlmTurn):
        return "llm"
    return "http"


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
        # Its id now, not at the flush: the turn names it (state, outbox rows) at once.
        id=new_id(),
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
    if not is_simulated(instance.user_id):
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
