"""A person answers a handed-off customer from the inbox.

The reply is an ordinary outbox row (``queued``, a text) that names its agent, so the
sender delivers it like the bot's messages: in order, with retries, from the number the
conversation runs on. Only a handed-off conversation takes agent replies, and only within
the 24-hour customer service window: outside it WhatsApp accepts approved templates only,
so the reply is refused at once (409) instead of failing later.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.messages import text_message
from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.admin import customer_key_of
from convoflow.services.conversations.customers import (
    conversation_locked,
    kick_background,
    reply_number,
)
from convoflow.services.conversations.handoffs import open_handoff_of
from convoflow.services.live import announce, message_event
from convoflow.services.outbox.window import window_is_closed
from convoflow.store.models import Contact, PhoneNumber, WhatsAppMessage

OUTSIDE_WINDOW_REFUSAL = (
    "the customer last wrote more than 24 hours ago: WhatsApp only delivers an approved "
    "template now, not a free-form reply"
)


async def reply_as_agent(
    access: ConversationAccess,
    db_session: AsyncSession,
    *,
    caller: Caller,
    phone: str,
    text: str,
    phone_number_id: str | None = None,
) -> WhatsAppMessage:
    """Queue ``text`` for a handed-off customer, written by ``caller``; the stored row.

    404: no such customer; 409: not handed off, outside the 24-hour window, or no number
    to write from; 422: ``phone_number_id`` is not one of the caller's numbers, or the
    text is blank.
    """
    body = text_message(text)
    if body is None:
        raise InvalidData("text", "must not be blank")
    async with db_session.begin():
        key = await customer_key_of(db_session, caller, phone)
    now = access.clock.now()
    async with conversation_locked(access, caller.id, key) as locked:
        contact = (
            await locked.execute(
                select(Contact).where(Contact.owner_id == caller.id, Contact.customer_key == key)
            )
        ).scalar_one_or_none()
        if contact is None:
            raise NotFound(f"no customer {phone}")
        live = await access.store.load(locked, owner_id=caller.id, customer_key=key, now=now)
        handoff = await open_handoff_of(locked, owner_id=caller.id, customer_key=key)
        if live is None or handoff is None:
            raise Conflict(
                f"the conversation with {phone} is not handed off to a person: the bot answers it"
            )
        if window_is_closed("text", contact.last_inbound_at, now):
            raise Conflict(OUTSIDE_WINDOW_REFUSAL)
        number = await _number_to_write_from(locked, caller, key, phone_number_id)
        row = WhatsAppMessage(
            owner_id=caller.id,
            phone_number_id=number,
            customer_key=key,
            direction="out",
            type="text",
            payload=body,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            template_id=live.template_id,
            step_id=live.state.current_step,
            instance_id=live.instance_id,
            agent_id=caller.id,
            created_at=now,
        )
        locked.add(row)
        handoff.agent_id = caller.id
        await locked.flush()
        announce(
            locked,
            message_event(
                caller.id,
                customer_key=key,
                message_id=row.id,
                direction="out",
                status=row.status,
                agent_id=caller.id,
            ),
        )
        await locked.commit()
    await kick_background(access, customers=[(caller.id, key)])
    return row


async def _number_to_write_from(
    db_session: AsyncSession, caller: Caller, customer_key: str, phone_number_id: str | None
) -> str:
    """The caller's number given, else the one the conversation runs on."""
    if phone_number_id is None:
        number = await reply_number(db_session, caller.id, customer_key)
        if not number:
            raise Conflict("you have no WhatsApp number to write from")
        return number
    owned = await db_session.scalar(
        select(PhoneNumber.id).where(
            PhoneNumber.owner_id == caller.id, PhoneNumber.phone_number_id == phone_number_id
        )
    )
    if owned is None:
        raise InvalidData("phone_number_id", "is not one of your WhatsApp numbers")
    return phone_number_id
