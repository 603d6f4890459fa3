"""What a finished effect means: one handler per effect kind, in
:attr:`ResultContext.handlers` (a registry the composition root builds).

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

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.engine.events import EffectResult
from convoflow.services.conversations.customers import load_customer
from convoflow.services.conversations.service import ConversationService
from convoflow.services.workflows.effect_settlement import settle_effect
from convoflow.services.workflows.effect_types import (
    RESPONSE_BODY_LIMIT,
    EffectRun,
    FedBack,
    FinishedEffect,
)
from convoflow.sessions.base import ConversationLocks
from convoflow.store.models import (
    WorkflowInstance,
)

__all__ = [
    "ResultContext",
    "ResultHandler",
    "feed_back",
    "resume_conversation",
    "store_end_action_result",
]

ResultHandler = Callable[["ResultContext", FinishedEffect, EffectRun], Awaitable[FedBack | None]]


@dataclass(frozen=True, slots=True)
class ResultContext:
    """The services a handler may need."""

    db_sessions: async_sessionmaker[AsyncSession]
    locks: ConversationLocks
    conversations: ConversationService
    #: Effect kind → what its result means; built by the composition root.
    handlers: Mapping[str, ResultHandler] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)


async def feed_back(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """Apply ``run`` with the handler of the effect's kind (an unknown kind fails the row)."""
    handler = context.handlers.get(effect.kind)
    if handler is None:
        failed = replace(run, ok=False, error=f"no result handler for effect kind {effect.kind!r}")
        async with context.db_sessions.begin() as db_session:
            await settle_effect(db_session, effect, failed, now=context.clock.now())
        return None
    return await handler(context, effect, run)


async def resume_conversation(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """``http``: give the waiting conversation its result, under the conversation lock.

    A conversation that has moved on (cancelled, expired, another run of the template) is
    left alone; the effect is settled all the same.
    """
    async with context.db_sessions() as db_session:
        customer_key = await db_session.scalar(
            select(WorkflowInstance.conversation_id).where(
                WorkflowInstance.id == effect.instance_id
            )
        )
    if not customer_key:
        async with context.db_sessions.begin() as db_session:
            await settle_effect(db_session, effect, run, now=context.clock.now())
        return None
    conversations = context.conversations
    store = conversations.store
    async with context.db_sessions() as db_session:
        async with context.locks.hold(
            db_session, owner_id=effect.owner_id, customer_key=customer_key
        ):
            if not await settle_effect(db_session, effect, run, now=context.clock.now()):
                await db_session.rollback()
                return None
            now = context.clock.now()
            live = await store.load(
                db_session, owner_id=effect.owner_id, customer_key=customer_key, now=now
            )
            if live is None or live.instance_id != effect.instance_id:
                await db_session.commit()
                return None
            customer = await load_customer(
                db_session, owner_id=effect.owner_id, customer_key=customer_key
            )
            event = EffectResult(effect.effect_id, ok=run.ok, data=run.data, error=run.error)
            turn, resumed = await conversations.resume(db_session, customer, event, now=now)
            await store.commit(db_session, resumed)
    # A `connect` after the call runs on in a new instance: its effects are new too.
    instances = {effect.instance_id, turn.instance_id or effect.instance_id}
    return FedBack(effect.owner_id, customer_key, sorted(instances))


async def store_end_action_result(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """``end_action``: keep the answer on the instance; a final failure fails the instance."""
    async with context.db_sessions.begin() as db_session:
        if not await settle_effect(db_session, effect, run, now=context.clock.now()):
            return None
        instance = await db_session.get(WorkflowInstance, effect.instance_id)
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
            instance.completed_at = instance.completed_at or context.clock.now()
    return None
