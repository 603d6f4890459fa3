"""A customer talking to the bot from inside convoflow, through the real message path.

The terminal chat and the builder's simulator both use :class:`LocalConversation`: a
message goes in as an inbound row of a local channel (see
:mod:`convoflow.store.local_channels`) and is processed by the :class:`MessageProcessor`
under the conversation lock, exactly as a WhatsApp message is; the bot's replies are the
outbox rows the engine queued. No sender takes rows of a local channel, so nothing reaches
the Graph API: :meth:`LocalConversation.collect` hands the replies over and marks them
``sent``, since showing them is their delivery.

The effects a turn leaves that the conversation waits for (a model turn of an AI step, an
``http`` step) are run at once through the ``effects_now`` port of the access when the
composition root gave one, so the replies they lead to (the model's answer) come back with
the message. An end action is left to the background jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import FlowStatus, OutboundMessage
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.customers import load_customer
from convoflow.services.conversations.service import Customer, TurnResult
from convoflow.services.inbox.intake import InboundRecord, MessageProcessor, store_inbound
from convoflow.services.templates.catalog import TemplateRef
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import new_id

#: Statuses after which a turn may have left effects (a model turn, an http step, an end action).
_EFFECT_STATUSES = frozenset({FlowStatus.WAITING_EFFECT, FlowStatus.COMPLETED})


@dataclass(frozen=True, slots=True)
class LocalCustomer:
    """Who talks, on which local channel: the owner's customer ``customer_key``."""

    owner_id: str
    customer_key: str
    channel: str
    name: str = ""
    phone: str = ""


class LocalConversation:
    """One customer of a local channel talking to the bot of their owner."""

    def __init__(
        self, access: ConversationAccess, processor: MessageProcessor, customer: LocalCustomer
    ) -> None:
        self.access = access
        self.processor = processor
        self.customer = customer

    async def say(self, text: str) -> list[OutboundMessage]:
        """Send ``text`` as the customer; return the bot's replies."""
        return await self.send("text", {"type": "text", "text": {"body": text}})

    async def send(self, message_type: str, payload: dict[str, Any]) -> list[OutboundMessage]:
        """Send a message (a WhatsApp message object of ``message_type``); return the replies."""
        who = self.customer
        now = self.access.clock.now()
        record = InboundRecord(
            owner_id=who.owner_id,
            phone_number_id=who.channel,
            wamid=f"{who.channel}.{new_id()}",
            customer_key=who.customer_key,
            wa_id=who.phone or None,
            bsuid=None,
            profile_name=who.name,
            type=message_type,
            payload=payload,
            sent_at=now,
        )
        async with self.access.db_sessions.begin() as db_session:
            await store_inbound(db_session, [record], now=now)
        turns = await self.processor.process_customer(who.owner_id, who.customer_key)
        await self._settle(turns)
        return await self.collect()

    async def start(
        self, ref: TemplateRef, variables: dict[str, Any] | None = None
    ) -> list[OutboundMessage]:
        """Start a template directly, without its trigger keyword; return the bot's messages.

        A conversation already under way is cancelled first.
        """
        access, who = self.access, self.customer
        async with access.db_sessions() as db_session:
            async with access.locks.hold(
                db_session, owner_id=who.owner_id, customer_key=who.customer_key
            ):
                customer = await self._customer(db_session)
                turn, live = await access.conversations.start(
                    db_session, customer, ref, dict(variables or {}), now=access.clock.now()
                )
                await access.store.commit(db_session, live)
        await self._settle([turn])
        return await self.collect()

    async def collect(self) -> list[OutboundMessage]:
        """The bot's messages not shown yet, oldest first, now marked ``sent``.

        Whoever processed the message (this call, or a background job that got there
        first), its replies are found here; two callers never get the same message.
        """
        who = self.customer
        async with self.access.db_sessions.begin() as db_session:
            queued = (
                await db_session.execute(
                    select(WhatsAppMessage.id, WhatsAppMessage.payload, WhatsAppMessage.step_id)
                    .where(
                        WhatsAppMessage.owner_id == who.owner_id,
                        WhatsAppMessage.customer_key == who.customer_key,
                        WhatsAppMessage.phone_number_id == who.channel,
                        WhatsAppMessage.direction == "out",
                        WhatsAppMessage.status == "queued",
                    )
                    .order_by(WhatsAppMessage.id)
                )
            ).all()
            if not queued:
                return []
            taken = set(
                (
                    await db_session.execute(
                        update(WhatsAppMessage)
                        .where(
                            WhatsAppMessage.id.in_([row.id for row in queued]),
                            WhatsAppMessage.status == "queued",
                        )
                        .values(status="sent", sent_at=self.access.clock.now(), attempts=1)
                        .returning(WhatsAppMessage.id)
                    )
                ).scalars()
            )
        return [
            OutboundMessage(body=row.payload, step_id=row.step_id or "")
            for row in queued
            if row.id in taken
        ]

    async def _settle(self, turns: Iterable[TurnResult]) -> None:
        """Run the effects these turns left, and what follows them, before collecting."""
        effects_now = self.access.effects_now
        if effects_now is None:
            return
        instance_ids = {
            turn.instance_id
            for turn in turns
            if turn.instance_id is not None and turn.status in _EFFECT_STATUSES
        }
        if instance_ids:
            await effects_now.settle(instance_ids)

    async def _customer(self, db_session: AsyncSession) -> Customer:
        who = self.customer
        found = await load_customer(
            db_session,
            owner_id=who.owner_id,
            customer_key=who.customer_key,
            channel_number=who.channel,
        )
        # Before the first message there may be no contact row yet: use the given identity.
        return replace(found, name=found.name or who.name, phone=found.phone or who.phone)
