"""Which business number a conversation runs on, for owners with several numbers.

A customer's conversation is keyed by owner and customer, not by number; it runs on the
number of the customer's latest message (in or out), which is also the number replies go
out from (:func:`~convoflow.services.conversations.customers.reply_number`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import WhatsAppMessage

__all__ = ["customers_on_number"]


async def customers_on_number(
    db_session: AsyncSession,
    *,
    owner_id: str,
    phone_number_id: str,
    customer_key: str | None = None,
) -> set[str]:
    """The owner's customers (or just ``customer``) whose latest message is on the number."""
    message = WhatsAppMessage
    latest = select(func.max(message.id).label("id")).where(message.owner_id == owner_id)
    if customer_key is not None:
        latest = latest.where(message.customer_key == customer_key)
    latest_ids = latest.group_by(message.customer_key).subquery()
    rows = await db_session.scalars(
        select(message.customer_key)
        .join(latest_ids, message.id == latest_ids.c.id)
        .where(message.phone_number_id == phone_number_id)
    )
    return set(rows)
