"""Contacts: the customers of an owner, as the message path has met them."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import Contact


async def find_contact(db_session: AsyncSession, owner_id: str, reference: str) -> Contact | None:
    """An owner's contact by id, customer key or WhatsApp id."""
    return (
        await db_session.execute(
            select(Contact)
            .where(
                Contact.owner_id == owner_id,
                or_(
                    Contact.id == reference,
                    Contact.customer_key == reference,
                    Contact.wa_id == reference,
                ),
            )
            .order_by(Contact.first_seen_at)
            .limit(1)
        )
    ).scalar_one_or_none()
