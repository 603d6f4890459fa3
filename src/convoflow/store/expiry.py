"""Removing expired conversation states (the sweeper and `convoflow cleanup`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import ConversationStateRow, WorkflowInstance

EXPIRED_ERROR = "conversation expired"


async def expire_states(db_session: AsyncSession, now: datetime) -> int:
    """Delete states expired at ``now``; their unfinished instances become ``cancelled``.

    Runs in the caller's transaction and returns how many states went.
    """
    expired = await db_session.execute(
        delete(ConversationStateRow)
        .where(ConversationStateRow.expires_at <= now)
        .returning(ConversationStateRow.instance_id)
        .execution_options(synchronize_session=False)
    )
    rows = expired.all()
    await cancel_expired_instances(
        db_session, [row.instance_id for row in rows if row.instance_id], now
    )
    return len(rows)


async def cancel_expired_instances(
    db_session: AsyncSession, instance_ids: list[str], now: datetime
) -> None:
    """Unfinished instances whose conversation expired become ``cancelled`` (idempotent)."""
    if not instance_ids:
        return
    await db_session.execute(
        update(WorkflowInstance)
        .where(
            WorkflowInstance.id.in_(instance_ids),
            WorkflowInstance.status.in_(("active", "waiting")),
        )
        .values(status="cancelled", error=EXPIRED_ERROR, completed_at=now)
        .execution_options(synchronize_session=False)
    )
