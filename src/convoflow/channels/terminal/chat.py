"""The terminal chat's use case: talk to the bot as a customer, through the real message path.

Messages go in as inbound rows of the ``terminal`` channel and come back as the outbox rows
the engine queued, exactly as WhatsApp customers get them; the chat marks them ``sent``
because printing them is their delivery.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import OutboundMessage
from convoflow.errors import NotFound
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.customers import load_customer
from convoflow.services.conversations.service import Customer
from convoflow.services.inbox.intake import InboundRecord, MessageProcessor, store_inbound
from convoflow.store import accounts
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import new_id

TERMINAL_CHANNEL = "terminal"


class ChatSession:
    """One customer talking to the bot of ``owner_name`` from a terminal."""

    def __init__(
        self,
        access: ConversationAccess,
        processor: MessageProcessor,
        *,
        owner_name: str,
        phone: str,
        name: str,
    ) -> None:
        self.access = access
        self.processor = processor
        self.owner_name = owner_name
        self.phone = phone
        self.name = name
        self.owner_id = ""

    async def open(self) -> None:
        """Resolve the owner (it must exist: run `convoflow seed` first)."""
        async with self.access.db_sessions() as db_session:
            self.owner_id = (await accounts.get_user(db_session, self.owner_name)).id

    async def say(self, text: str) -> list[OutboundMessage]:
        """Send ``text`` as the customer; return the bot's replies."""
        record = InboundRecord(
            owner_id=self.owner_id,
            phone_number_id=TERMINAL_CHANNEL,
            wamid=f"chat.{new_id()}",
            customer_key=self.phone,
            wa_id=self.phone,
            bsuid=None,
            profile_name=self.name,
            type="text",
            payload={"type": "text", "text": {"body": text}},
            sent_at=self.access.clock.now(),
        )
        async with self.access.db_sessions.begin() as db_session:
            await store_inbound(db_session, [record], now=self.access.clock.now())
        turns = await self.processor.process_customer(self.owner_id, self.phone)
        ids = [row_id for turn in turns for row_id in turn.outbound_ids]
        return await self._deliver(ids)

    async def start(
        self, template_name: str, variables: dict[str, Any] | None = None
    ) -> list[OutboundMessage]:
        """Start a template directly, without its trigger keyword."""
        access = self.access
        async with access.db_sessions() as db_session:
            async with access.locks.hold(
                db_session, owner_id=self.owner_id, customer_key=self.phone
            ):
                ref = await access.catalog.by_name(
                    db_session, owner_id=self.owner_id, name=template_name
                )
                if ref is None:
                    raise NotFound(f"no active template named {template_name!r}")
                customer = await self._customer(db_session)
                turn, live = await access.conversations.start(
                    db_session, customer, ref, dict(variables or {}), now=self.access.clock.now()
                )
                await access.store.commit(db_session, live)
        return await self._deliver(turn.outbound_ids)

    async def _customer(self, db_session: AsyncSession) -> Customer:
        found = await load_customer(
            db_session,
            owner_id=self.owner_id,
            customer_key=self.phone,
            channel_number=TERMINAL_CHANNEL,
        )
        # Before the first message there is no contact row yet: use the chat's identity.
        return replace(found, name=found.name or self.name, phone=found.phone or self.phone)

    async def _deliver(self, outbound_ids: list[int]) -> list[OutboundMessage]:
        if not outbound_ids:
            return []
        now: datetime = self.access.clock.now()
        async with self.access.db_sessions.begin() as db_session:
            rows = (
                await db_session.execute(
                    select(WhatsAppMessage)
                    .where(WhatsAppMessage.id.in_(outbound_ids))
                    .order_by(WhatsAppMessage.id)
                )
            ).scalars()
            messages = [
                OutboundMessage(body=row.payload, step_id=row.step_id or "") for row in rows
            ]
            await db_session.execute(
                update(WhatsAppMessage)
                .where(WhatsAppMessage.id.in_(outbound_ids), WhatsAppMessage.status == "queued")
                .values(status="sent", sent_at=now, attempts=1)
            )
        return messages
