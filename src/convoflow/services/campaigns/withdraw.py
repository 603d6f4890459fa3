"""Taking campaign messages back out of the outbox before they are sent.

Pausing, cancelling and opting out must stop messages already queued. A queued campaign row
that no sender holds (its ``next_attempt_at`` is not in the future) is failed here with a
``withdrawn: …`` reason in the same transaction that moves its recipient on; a row a sender
holds right now goes out (it is seconds from the Graph API), and a row waiting for a retry
is refused by the sender's check (:func:`convoflow.store.campaign_sends.send_refusal`) when
its turn comes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import CampaignRecipient, WhatsAppMessage

__all__ = ["WITHDRAWN", "withdraw_queued"]

WITHDRAWN = "withdrawn: "


async def withdraw_queued(
    db_session: AsyncSession,
    recipients: Any,
    *,
    reason: str,
    recipient_status: str,
    now: datetime,
    recipient_values: dict[str, Any] | None = None,
) -> int:
    """Withdraw the free queued rows of the recipients selected by ``recipients`` (a SQL
    condition on :class:`CampaignRecipient`) and move those recipients to
    ``recipient_status``; returns how many rows were withdrawn."""
    message = WhatsAppMessage
    queued_ids = select(CampaignRecipient.id).where(
        recipients, CampaignRecipient.status == "queued"
    )
    withdrawn = await db_session.execute(
        update(message)
        .where(
            message.campaign_recipient_id.in_(queued_ids),
            message.direction == "out",
            message.status == "queued",
            or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
        )
        .values(
            status="failed",
            next_attempt_at=None,
            error_text=WITHDRAWN + reason,
            updated_at=now,
        )
        .returning(message.campaign_recipient_id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in withdrawn if row[0] is not None]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        await db_session.execute(
            update(CampaignRecipient)
            .where(and_(CampaignRecipient.id.in_(chunk), CampaignRecipient.status == "queued"))
            .values(status=recipient_status, updated_at=now, **(recipient_values or {}))
            .execution_options(synchronize_session=False)
        )
    return len(ids)
