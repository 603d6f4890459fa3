"""Removing expired conversation states (the sweeper and `convoflow cleanup`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import ConversationState, WorkflowInstance

EXPIRED_ERROR = "conversation expired"


async def expire_states(session: AsyncSession, now: datetime) -> int:
    """Delete states expired at ``now``; their unfinished instances become ``cancelled``.

    Runs in the caller's transaction and returns how many states went.
    """
    expired = await session.execute(
        delete(ConversationState)
        .where(ConversationState.expires_at <= now)
        .returning(ConversationState.instance_id)
        .execution_options(synchronize_session=False)
    )
    rows = expired.all()
    instance_ids = [row.instance_id for row in rows if row.instance_id]
    if instance_ids:
        await session.execute(
            update(WorkflowInstance)
            .where(
                WorkflowInstance.id.in_(instance_ids),
                WorkflowInstance.status.in_(("active", "waiting")),
            )
            .values(status="cancelled", error=EXPIRED_ERROR, completed_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(rows)
