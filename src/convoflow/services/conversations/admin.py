"""Live conversations and the message log through the admin API.

Conversations are read from the session store (SQL or Redis), so the API sees the same
state the message path does. Resetting a customer takes their conversation lock, deletes
the state and cancels its workflow instance: their next message starts fresh. Releasing a
handed-off conversation closes its handoff and gives the turn back to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.events import Release
from convoflow.errors import Conflict, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.channels import customers_on_number
from convoflow.services.conversations.customers import (
    conversation_locked,
    customer_of,
    kick_background,
)
from convoflow.services.conversations.handoffs import (
    close_handoff,
    open_handoff_of,
    open_handoffs,
)
from convoflow.services.conversations.outcomes import finish
from convoflow.sessions.base import LiveConversation
from convoflow.store.contacts import find_contact
from convoflow.store.local_channels import SIMULATOR_CHANNEL, is_simulated
from convoflow.store.models import Handoff, WhatsAppMessage, WorkflowInstance
from convoflow.store.paging import PageRequest, slice_page

ConversationStatus = Literal["active", "waiting", "handoff"]
CONVERSATION_STATUSES: tuple[str, ...] = ("active", "waiting", "handoff")


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A live conversation and, when a person has it, its open handoff."""

    live: LiveConversation
    handoff: Handoff | None = None

    @property
    def status(self) -> ConversationStatus:
        """``handoff`` (a person has it), ``waiting`` (for an outside call) or ``active``."""
        if self.handoff is not None:
            return "handoff"
        return "waiting" if self.live.state.waiting_effect else "active"


def _view(live: LiveConversation, handoffs: dict[str, Handoff]) -> ConversationView:
    """The conversation with its handoff, if that handoff is of this very run."""
    handoff = handoffs.get(live.customer_key)
    if handoff is not None and handoff.instance_id not in (None, live.instance_id):
        handoff = None  # left open by a run that expired meanwhile
    return ConversationView(live, handoff)


@dataclass(frozen=True, slots=True)
class ResetResult:
    """What a reset did."""

    customer_key: str
    cancelled_instance_id: str | None


async def customer_key_of(db_session: AsyncSession, caller: Caller, phone: str) -> str:
    """The conversation key of a customer given by number (with or without +) or contact id."""
    reference = phone.strip()
    contact = await find_contact(db_session, caller.id, reference)
    if contact is None and reference.startswith("+"):
        contact = await find_contact(db_session, caller.id, reference[1:])
    if contact is not None:
        return contact.customer_key
    return reference.removeprefix("+")


async def list_conversations(
    access: ConversationAccess,
    db_session: AsyncSession,
    *,
    caller: Caller,
    flow: str | None,
    step: str | None,
    page: PageRequest,
    phone_number_id: str | None = None,
    status: str | None = None,
    include_simulated: bool = False,
) -> tuple[list[ConversationView], int]:
    """One page of the caller's live conversations, newest first, by template (flow), step,
    status (``active``, ``waiting``, ``handoff``) and the business number they run on, and
    how many match. The builder simulator's test customers are left out unless
    ``include_simulated``.

    The session store (SQL or Redis) hands over every live conversation of the owner, so
    filtering and paging happen here.
    """
    async with db_session.begin():
        live = await access.store.list_live(db_session, owner_id=caller.id, now=access.clock.now())
        handoffs = await open_handoffs(db_session, owner_id=caller.id)
        on_number = None
        if phone_number_id is not None:
            on_number = await customers_on_number(
                db_session, owner_id=caller.id, phone_number_id=phone_number_id
            )
    views = [_view(conversation, handoffs) for conversation in live]
    matching = [
        view
        for view in views
        if (flow is None or view.live.state.template_name == flow)
        and (step is None or view.live.state.current_step == step)
        and (on_number is None or view.live.customer_key in on_number)
        and (status is None or view.status == status)
        and (include_simulated or not is_simulated(view.live.customer_key))
    ]
    # Newest first, ties by customer: pages must not overlap when two started together.
    matching.sort(key=lambda view: view.live.customer_key)
    matching.sort(key=lambda view: view.live.created_at, reverse=True)
    return slice_page(matching, page)


async def get_conversation(
    access: ConversationAccess,
    db_session: AsyncSession,
    *,
    caller: Caller,
    phone: str,
    phone_number_id: str | None = None,
) -> ConversationView:
    """A customer's live conversation (404 when there is none, or not on that number)."""
    async with db_session.begin():
        key = await customer_key_of(db_session, caller, phone)
        live = await access.store.load(
            db_session, owner_id=caller.id, customer_key=key, now=access.clock.now()
        )
        if live is not None and phone_number_id is not None:
            on_number = await customers_on_number(
                db_session, owner_id=caller.id, phone_number_id=phone_number_id, customer_key=key
            )
            live = live if key in on_number else None
        handoff = await open_handoff_of(db_session, owner_id=caller.id, customer_key=key)
    if live is None:
        raise NotFound(f"no live conversation with {phone}")
    return _view(live, {key: handoff} if handoff is not None else {})


async def reset_conversation(
    access: ConversationAccess, db_session: AsyncSession, *, caller: Caller, phone: str
) -> ResetResult:
    """Delete the customer's state and cancel its instance (404 when there is none)."""
    async with db_session.begin():
        key = await customer_key_of(db_session, caller, phone)
    now = access.clock.now()
    async with conversation_locked(access, caller.id, key) as locked:
        live = await access.store.load(locked, owner_id=caller.id, customer_key=key, now=now)
        deleted = await access.store.delete(locked, owner_id=caller.id, customer_key=key)
        instance = None
        if live is not None and live.instance_id is not None:
            instance = await locked.get(WorkflowInstance, live.instance_id)
        if instance is not None:
            await finish(locked, instance, "cancelled", now=now, error="reset by admin")
        await close_handoff(
            locked, owner_id=caller.id, customer_key=key, now=now, released_by="reset"
        )
        await locked.commit()
    if live is None and not deleted:
        raise NotFound(f"no live conversation with {phone}")
    return ResetResult(key, instance.id if instance is not None else None)


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """A handed-off conversation given back to the bot: where it stands now."""

    customer_key: str
    status: str
    current_step: str | None


async def release_conversation(
    access: ConversationAccess, db_session: AsyncSession, *, caller: Caller, phone: str
) -> ReleaseResult:
    """Give a handed-off conversation back to the bot (404 if none, 409 when it is not
    handed off): the handoff is closed with the caller as its agent and the engine gets a
    ``Release`` (a ``handoff`` step goes on at its ``next``); the bot's next messages are
    queued for the customer and its next inbound message runs the engine again."""
    async with db_session.begin():
        key = await customer_key_of(db_session, caller, phone)
    now = access.clock.now()
    async with conversation_locked(access, caller.id, key) as locked:
        live = await access.store.load(locked, owner_id=caller.id, customer_key=key, now=now)
        if live is None:
            raise NotFound(f"no live conversation with {phone}")
        handoff = await open_handoff_of(locked, owner_id=caller.id, customer_key=key)
        if _view(live, {key: handoff} if handoff else {}).handoff is None:
            raise Conflict(f"the conversation with {phone} is not handed off to an agent")
        await close_handoff(
            locked,
            owner_id=caller.id,
            customer_key=key,
            now=now,
            released_by="agent",
            agent_id=caller.id,
        )
        customer = await customer_of(locked, caller.id, key)
        turn, after = await access.conversations.resume(locked, customer, Release(), now=now)
        await access.store.commit(locked, after)
    await kick_background(access, customers=[(caller.id, key)])
    return ReleaseResult(
        key, str(turn.status or ""), after.state.current_step if after is not None else None
    )


async def list_messages(
    db_session: AsyncSession,
    *,
    caller: Caller,
    phone: str | None,
    direction: str | None,
    limit: int,
    offset: int,
    phone_number_id: str | None = None,
    include_simulated: bool = False,
) -> tuple[list[WhatsAppMessage], int]:
    """The caller's message log (both directions, one or all of their business numbers),
    newest first, and the total; the simulator's messages only with ``include_simulated``."""
    query = select(WhatsAppMessage).where(WhatsAppMessage.owner_id == caller.id)
    if not include_simulated:
        query = query.where(WhatsAppMessage.phone_number_id != SIMULATOR_CHANNEL)
    if phone_number_id is not None:
        query = query.where(WhatsAppMessage.phone_number_id == phone_number_id)
    async with db_session.begin():
        if phone:
            key = await customer_key_of(db_session, caller, phone)
            query = query.where(WhatsAppMessage.customer_key == key)
        if direction is not None:
            query = query.where(WhatsAppMessage.direction == direction)
        total = await db_session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await db_session.execute(
            query.order_by(WhatsAppMessage.id.desc()).limit(limit).offset(offset)
        )
        return list(rows.scalars()), int(total or 0)
