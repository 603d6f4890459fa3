"""Reaching a customer from the admin API: who they are, their lock, a message to them.

Everything that touches a live conversation takes the conversation lock first (as the
message path does), then begins its transaction, and commits inside the lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import OutboundMessage
from convoflow.engine.render import render
from convoflow.services.conversations import Customer
from convoflow.services.outcomes import queue_messages
from convoflow.store.models import Contact, PhoneNumber, WhatsAppMessage

if TYPE_CHECKING:
    from convoflow.runtime import Runtime


async def find_contact(session: AsyncSession, owner_id: str, reference: str) -> Contact | None:
    """An owner's contact by id, customer key or WhatsApp id."""
    return (
        await session.execute(
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


async def channel_number(session: AsyncSession, owner_id: str, customer_key: str) -> str:
    """The business number to write from: the one the customer last used, else the owner's."""
    used = await session.scalar(
        select(WhatsAppMessage.phone_number_id)
        .where(WhatsAppMessage.owner_id == owner_id, WhatsAppMessage.customer == customer_key)
        .order_by(WhatsAppMessage.id.desc())
        .limit(1)
    )
    if used:
        return str(used)
    owned = await session.scalar(
        select(PhoneNumber.phone_number_id)
        .where(PhoneNumber.owner_id == owner_id)
        .order_by(PhoneNumber.created_at)
        .limit(1)
    )
    return str(owned or "")


async def customer_of(session: AsyncSession, owner_id: str, customer_key: str) -> Customer:
    """The customer as the message path sees them (contact details and reply number).

    The reply number is always one of the owner's: never the server's own number for an
    owner who has none (``channel_number`` is then empty).
    """
    contact = await find_contact(session, owner_id, customer_key)
    key = contact.customer_key if contact else customer_key
    number = await channel_number(session, owner_id, key)
    return Customer.of_contact(contact, owner_id=owner_id, key=key, channel_number=number)


@asynccontextmanager
async def conversation_locked(
    runtime: Runtime, owner_id: str, customer_key: str
) -> AsyncIterator[AsyncSession]:
    """A session holding the customer's conversation lock; commit inside the block."""
    async with runtime.sessions() as session:
        async with runtime.locks.hold(session, owner_id=owner_id, customer=customer_key):
            yield session


def queue_text(
    session: AsyncSession,
    customer: Customer,
    *,
    text: str,
    variables: dict[str, Any],
    step_id: str,
    template_id: str | None,
    instance_id: str | None,
    now: datetime,
) -> bool:
    """Queue a text for the customer ({{variables}} rendered); False when no number is known."""
    if not customer.channel_number:
        return False
    body = render(text, variables, customer.render_context())
    message = OutboundMessage({"type": "text", "text": {"body": body[:4096]}}, step_id)
    queue_messages(
        session,
        owner_id=customer.owner_id,
        phone_number_id=customer.channel_number,
        customer=customer.key,
        messages=[message],
        template_id=template_id,
        instance_id=instance_id,
        now=now,
    )
    return True


async def kick_background(
    runtime: Runtime,
    *,
    effect_row_ids: Sequence[str] = (),
    customers: Sequence[tuple[str, str]] = (),
) -> None:
    """Ask the job runner to run new effects and deliver new messages now.

    The work is already durable; if the kick is lost the sweeper picks it up on its next
    pass.
    """
    dispatcher = runtime.dispatcher
    try:
        if effect_row_ids:
            await dispatcher.run_effects(list(effect_row_ids))
        for owner_id, customer in customers:
            await dispatcher.deliver(owner_id, customer)
    except Exception:  # a lost kick only delays the work until the sweeper's next pass
        return
