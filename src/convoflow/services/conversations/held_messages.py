"""The customer's messages held for a model turn that has not called the model yet.

A model turn caused by a customer's message waits for the debounce window
(``CONVOFLOW_LLM_DEBOUNCE_MS``) before it runs; what the customer writes meanwhile is held
in the conversation's AI memory (``context.ai.pending``). The turn reads those messages
here, just before it calls the model, so one call sees every fragment; its result says
how many it read and the engine moves exactly those into the transcript. Messages held
after this read go to the next turn. No lock is needed: while the conversation waits for
this turn, held messages are only ever appended.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.clock import Clock
from convoflow.sessions.states import ConversationStates
from convoflow.store.models import WorkflowInstance


async def held_messages(
    db_session: AsyncSession,
    store: ConversationStates,
    *,
    instance_id: str,
    effect_id: str,
    clock: Clock,
) -> list[str]:
    """The messages held for the turn ``effect_id`` of ``instance_id`` (none when the
    conversation no longer waits for it)."""
    owner = (
        await db_session.execute(
            select(WorkflowInstance.owner_id, WorkflowInstance.user_id).where(
                WorkflowInstance.id == instance_id
            )
        )
    ).first()
    if owner is None or owner.owner_id is None or owner.user_id is None:
        return []
    live = await store.load(
        db_session, owner_id=owner.owner_id, customer_key=owner.user_id, now=clock.now()
    )
    if live is None or live.instance_id != instance_id:
        return []
    if live.state.waiting_effect != effect_id or not live.state.ai:
        return []
    return [str(text) for text in live.state.ai.get("pending") or []]
