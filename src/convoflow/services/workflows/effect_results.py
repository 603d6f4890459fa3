"""What a finished effect means: one handler per effect kind, in :data:`RESULT_HANDLERS`.

The job runner (:mod:`convoflow.jobs.effects`) runs an effect (an ``http`` step's call, a
template's end action) and hands its final result to :func:`feed_back`. The handler of the
effect's kind persists what the result means in the same transaction that settles the
effect row, and only if the row is still claimed by that run, so a result is applied once
even when two runners raced for the same row.

==============  ===========================================================================
kind            handler
==============  ===========================================================================
``http``        :func:`resume_conversation`: the waiting conversation gets an
                :class:`~convoflow.engine.events.EffectResult` and moves on
``end_action``  :func:`store_end_action_result`: the answer is kept on the instance; a final
                failure marks the instance ``failed``
==============  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.engine.events import EffectResult
from convoflow.services.conversations.service import ConversationService, Customer
from convoflow.services.inbox.intake import load_customer
from convoflow.services.workflows.dependencies import dependency_finished
from convoflow.sessions.base import ConversationLocks
from convoflow.store.models import (
    PhoneNumber,
    WhatsAppMessage,
    WorkflowEffect,
    WorkflowInstance,
)
from convoflow.store.types import utcnow

__all__ = [
    "RESPONSE_BODY_LIMIT",
    "RESULT_HANDLERS",
    "EffectRun",
    "FedBack",
    "FinishedEffect",
    "ResultContext",
    "ResultHandler",
    "feed_back",
    "resume_conversation",
    "settle_effect",
    "store_end_action_result",
]

#: How much of an answer's body is kept (on the effect row and the instance).
RESPONSE_BODY_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class FinishedEffect:
    """The effect row as its runner claimed it; ``attempts`` is the claim's token."""

    id: str
    owner_id: str
    instance_id: str
    effect_id: str
    kind: str
    attempts: int


@dataclass(frozen=True, slots=True)
class EffectRun:
    """How an effect ended after its last attempt."""

    ok: bool
    attempts: int
    data: Any = None
    error: str = ""
    status_code: int | None = None
    body: str = ""

    def summary(self) -> dict[str, Any]:
        """What is stored as the effect row's ``result``."""
        return {
            "ok": self.ok,
            "status_code": self.status_code,
            "body": self.body[:RESPONSE_BODY_LIMIT],
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class FedBack:
    """What changed: a conversation whose outbox may have new rows, instances whose
    effects may have new rows (the jobs deliver and run those next)."""

    owner_id: str
    customer: str | None = None
    instance_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ResultContext:
    """The services a handler may need."""

    sessions: async_sessionmaker[AsyncSession]
    locks: ConversationLocks
    conversations: ConversationService


ResultHandler = Callable[[ResultContext, FinishedEffect, EffectRun], Awaitable[FedBack | None]]


async def feed_back(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """Apply ``run`` with the handler of the effect's kind (an unknown kind fails the row)."""
    handler = RESULT_HANDLERS.get(effect.kind)
    if handler is None:
        failed = replace(run, ok=False, error=f"no result handler for effect kind {effect.kind!r}")
        async with context.sessions.begin() as session:
            await settle_effect(session, effect, failed)
        return None
    return await handler(context, effect, run)


async def settle_effect(session: AsyncSession, effect: FinishedEffect, run: EffectRun) -> bool:
    """Mark the row done or failed if this run still holds it; False: someone else did."""
    now = utcnow()
    result = await session.execute(
        update(WorkflowEffect)
        .where(
            WorkflowEffect.id == effect.id,
            WorkflowEffect.status == "running",
            WorkflowEffect.attempts == effect.attempts,
        )
        .values(
            status="done" if run.ok else "failed",
            result=run.summary(),
            error=run.error or None,
            next_attempt_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def resume_conversation(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """``http``: give the waiting conversation its result, under the conversation lock.

    A conversation that has moved on (cancelled, expired, another run of the template) is
    left alone; the effect is settled all the same.
    """
    async with context.sessions() as session:
        customer_key = await session.scalar(
            select(WorkflowInstance.conversation_id).where(
                WorkflowInstance.id == effect.instance_id
            )
        )
    if not customer_key:
        async with context.sessions.begin() as session:
            await settle_effect(session, effect, run)
        return None
    conversations = context.conversations
    store = conversations.store
    async with context.sessions() as session:
        async with context.locks.hold(session, owner_id=effect.owner_id, customer=customer_key):
            if not await settle_effect(session, effect, run):
                await session.rollback()
                return None
            now = utcnow()
            live = await store.load(
                session, owner_id=effect.owner_id, customer=customer_key, now=now
            )
            if live is None or live.instance_id != effect.instance_id:
                await session.commit()
                return None
            customer = await _customer(session, effect.owner_id, customer_key)
            event = EffectResult(effect.effect_id, ok=run.ok, data=run.data, error=run.error)
            turn, resumed = await conversations.resume(session, customer, event, now=now)
            await session.commit()
            if resumed is not None and not store.transactional:
                await store.save(session, resumed)
    # A `connect` after the call runs on in a new instance: its effects are new too.
    instances = {effect.instance_id, turn.instance_id or effect.instance_id}
    return FedBack(effect.owner_id, customer_key, sorted(instances))


async def store_end_action_result(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """``end_action``: keep the answer on the instance; a final failure fails the instance."""
    async with context.sessions.begin() as session:
        if not await settle_effect(session, effect, run):
            return None
        instance = await session.get(WorkflowInstance, effect.instance_id)
        if instance is None:
            return None
        instance.end_action_result = {
            "status_code": run.status_code,
            "body": run.body[:RESPONSE_BODY_LIMIT],
            "attempts": run.attempts,
        }
        if not run.ok:
            instance.status = "failed"
            instance.error = f"end action failed: {run.error}"
            instance.completed_at = instance.completed_at or utcnow()
    return None


async def _customer(session: AsyncSession, owner_id: str, customer_key: str) -> Customer:
    """The customer of a conversation, replying from the number they last wrote to."""
    channel = await session.scalar(
        select(WhatsAppMessage.phone_number_id)
        .where(
            WhatsAppMessage.owner_id == owner_id,
            WhatsAppMessage.customer == customer_key,
            WhatsAppMessage.direction == "in",
        )
        .order_by(WhatsAppMessage.id.desc())
        .limit(1)
    )
    if channel is None:
        channel = await session.scalar(
            select(PhoneNumber.phone_number_id)
            .where(PhoneNumber.owner_id == owner_id)
            .order_by(PhoneNumber.created_at)
            .limit(1)
        )
    return await load_customer(
        session, owner_id=owner_id, key=customer_key, channel_number=channel or ""
    )


#: Effect kind → what its result means. Add a kind here (and a runner in
#: :mod:`convoflow.jobs.effects`) to teach convoflow a new kind of effect.
RESULT_HANDLERS: dict[str, ResultHandler] = {
    "http": resume_conversation,
    "end_action": store_end_action_result,
    "dependency": dependency_finished,
}
