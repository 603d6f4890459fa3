"""Reaching a customer from the admin API: who they are, their lock, a message to them.

Everything that touches a live conversation takes the conversation lock first (as the
message path does), then begins its transaction, and commits inside the lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.messages import text_message
from convoflow.engine.outcome import OutboundMessage
from convoflow.engine.render import render
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.outcomes import queue_messages
from convoflow.services.conversations.service import Customer
from convoflow.store.contacts import find_contact
from convoflow.store.local_channels import SIMULATOR_CHANNEL, is_simulated
from convoflow.store.models import Contact, PhoneNumber, WhatsAppMessage


async def reply_number(db_session: AsyncSession, owner_id: str, customer_key: str) -> str:
    """The business number to write from: the one of the customer's latest message, else
    the simulator channel for a simulated customer (their run may start with a model turn,
    before any message), else the owner's first number ("" when the owner has none)."""
    used = await db_session.scalar(
        select(WhatsAppMessage.phone_number_id)
        .where(WhatsAppMessage.owner_id == owner_id, WhatsAppMessage.customer_key == customer_key)
        .order_by(WhatsAppMessage.id.desc())
        .limit(1)
    )
    if used:
        return str(used)
    if is_simulated(customer_key):
        return SIMULATOR_CHANNEL
    owned = await db_session.scalar(
        select(PhoneNumber.phone_number_id)
        .where(PhoneNumber.owner_id == owner_id)
        .order_by(PhoneNumber.created_at)
        .limit(1)
    )
    return str(owned or "")


async def load_customer(
    db_session: AsyncSession,
    *,
    owner_id: str,
    customer_key: str,
    channel_number: str | None = None,
) -> Customer:
    """The customer as the message path sees them: name, phone and type from their contact,
    and the number to reply from (``channel_number``, else :func:`reply_number`).

    The one place a :class:`Customer` is built. The reply number is always one of the
    owner's: never the server's own number for an owner who has none (it is then empty).
    """
    contact = (
        await db_session.execute(
            select(Contact).where(
                Contact.owner_id == owner_id, Contact.customer_key == customer_key
            )
        )
    ).scalar_one_or_none()
    if channel_number is None:
        channel_number = await reply_number(db_session, owner_id, customer_key)
    return Customer.of_contact(
        contact, owner_id=owner_id, customer_key=customer_key, channel_number=channel_number
    )


async def customer_of(db_session: AsyncSession, owner_id: str, reference: str) -> Customer:
    """The customer an admin names by contact id, customer key or WhatsApp id."""
    contact = await find_contact(db_session, owner_id, reference)
    customer_key = contact.customer_key if contact else reference
    return await load_customer(db_session, owner_id=owner_id, customer_key=customer_key)


@asynccontextmanager
async def conversation_locked(
    access: ConversationAccess, owner_id: str, customer_key: str
) -> AsyncIterator[AsyncSession]:
    """A session holding the customer's conversation lock; commit inside the block."""
    async with access.db_sessions() as db_session:
        async with access.locks.hold(db_session, owner_id=owner_id, customer_key=customer_key):
            yield db_session


async def queue_text(
    db_session: AsyncSession,
    customer: Customer,
    *,
    text: str,
    variables: dict[str, Any],
    step_id: str,
    template_id: str | None,
    instance_id: str | None,
    now: datetime,
) -> bool:
    """Queue a text for the customer ({{variables}} rendered); False when no number is known.

    A text that renders blank is not sent (WhatsApp refuses empty texts); one too long for
    WhatsApp is cut, as the engine cuts its own messages.
    """
    if not customer.channel_number:
        return False
    body = text_message(render(text, variables, customer.render_context()))
    if body is None:
        return True
    message = OutboundMessage(body, step_id)
    await queue_messages(
        db_session,
        owner_id=customer.owner_id,
        phone_number_id=customer.channel_number,
        customer_key=customer.customer_key,
        messages=[message],
        template_id=template_id,
        instance_id=instance_id,
        now=now,
    )
    return True


async def kick_background(
    access: ConversationAccess,
    *,
    effect_row_ids: Sequence[str] = (),
    customers: Sequence[tuple[str, str]] = (),
) -> None:
    """Ask the job runner to run new effects and deliver new messages now.

    The work is already durable; if the kick is lost the sweeper picks it up on its next
    pass.
    """
    dispatcher = access.background
    try:
        if effect_row_ids:
            await dispatcher.run_effects(list(effect_row_ids))
        for owner_id, customer_key in customers:
            await dispatcher.deliver(owner_id, customer_key)
    except Exception:  # a lost kick only delays the work until the sweeper's next pass
        return
