"""Conversations handed to a person: opening, closing and finding handoffs.

A handoff opens when the engine's outcome hands the conversation over (a ``handoff``
step, or an AI step giving up: :attr:`~convoflow.engine.outcome.Outcome.handoff_reason`);
its workflow instance then waits (``status`` ``waiting``, ``waiting_for`` ``agent``) and
the bot stays silent until it is released (:mod:`.agents`). A handed-off conversation
lives at least :data:`HANDOFF_TTL_SECONDS` from its last message, so that expiry does not
end it while a person is on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.live import LiveEvent, announce
from convoflow.store.models import Handoff

#: What a handed-off instance waits for.
AGENT = "agent"
#: The least a handed-off conversation lives after the customer's last message (30 days).
HANDOFF_TTL_SECONDS = 30 * 86_400
#: Who or what ended a handoff.
RELEASED_BY = ("agent", "timeout", "flow", "reset", "ended")


async def open_handoff(
    db_session: AsyncSession,
    *,
    owner_id: str,
    customer_key: str,
    instance_id: str | None,
    template_id: str | None,
    step_id: str | None,
    reason: str,
    now: datetime,
) -> Handoff:
    """Record a new handoff (closing a stale open one of the customer first)."""
    await close_handoff(
        db_session, owner_id=owner_id, customer_key=customer_key, now=now, released_by="ended"
    )
    handoff = Handoff(
        owner_id=owner_id,
        customer_key=customer_key,
        instance_id=instance_id,
        template_id=template_id,
        step_id=step_id,
        reason=reason,
        started_at=now,
    )
    db_session.add(handoff)
    announce(
        db_session,
        LiveEvent(
            "conversation",
            owner_id,
            {"customer": customer_key, "event": "handoff", "reason": reason, "step": step_id},
        ),
    )
    return handoff


async def close_handoff(
    db_session: AsyncSession,
    *,
    owner_id: str,
    customer_key: str,
    now: datetime,
    released_by: str,
    agent_id: str | None = None,
) -> bool:
    """Close the customer's open handoff, if any; True when there was one."""
    values: dict[str, object] = {"released_at": now, "released_by": released_by}
    if agent_id is not None:
        values["agent_id"] = agent_id
    result = await db_session.execute(
        update(Handoff)
        .where(
            Handoff.owner_id == owner_id,
            Handoff.customer_key == customer_key,
            Handoff.released_at.is_(None),
        )
        .values(**values)
        .returning(Handoff.id)
        .execution_options(synchronize_session=False)
    )
    closed = result.first() is not None
    if closed:
        announce(
            db_session,
            LiveEvent(
                "conversation",
                owner_id,
                {"customer": customer_key, "event": "release", "released_by": released_by},
            ),
        )
    return closed


async def open_handoff_of(
    db_session: AsyncSession, *, owner_id: str, customer_key: str
) -> Handoff | None:
    """The customer's open handoff, or None."""
    return (
        await db_session.execute(
            select(Handoff).where(
                Handoff.owner_id == owner_id,
                Handoff.customer_key == customer_key,
                Handoff.released_at.is_(None),
            )
        )
    ).scalar_one_or_none()


async def open_handoffs(db_session: AsyncSession, *, owner_id: str) -> dict[str, Handoff]:
    """The owner's open handoffs by customer."""
    rows = await db_session.scalars(
        select(Handoff).where(Handoff.owner_id == owner_id, Handoff.released_at.is_(None))
    )
    return {row.customer_key: row for row in rows}
