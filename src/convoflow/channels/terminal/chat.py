"""The terminal chat's use case: talk to the bot as a customer, through the real message path.

Messages go in as inbound rows of the ``terminal`` channel and come back as the outbox rows
the engine queued, exactly as WhatsApp customers get them (see
:class:`~convoflow.services.inbox.local.LocalConversation`); the chat marks them ``sent``
because printing them is their delivery.
"""

from __future__ import annotations

from typing import Any

from convoflow.engine.outcome import OutboundMessage
from convoflow.errors import NotFound
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.inbox.intake import MessageProcessor
from convoflow.services.inbox.local import LocalConversation, LocalCustomer
from convoflow.store import accounts
from convoflow.store.local_channels import TERMINAL_CHANNEL

__all__ = ["TERMINAL_CHANNEL", "ChatSession"]


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

    def _conversation(self) -> LocalConversation:
        customer = LocalCustomer(
            owner_id=self.owner_id,
            customer_key=self.phone,
            channel=TERMINAL_CHANNEL,
            name=self.name,
            phone=self.phone,
        )
        return LocalConversation(self.access, self.processor, customer)

    async def say(self, text: str) -> list[OutboundMessage]:
        """Send ``text`` as the customer; return the bot's replies."""
        return await self._conversation().say(text)

    async def start(
        self, template_name: str, variables: dict[str, Any] | None = None
    ) -> list[OutboundMessage]:
        """Start a template directly, without its trigger keyword."""
        async with self.access.db_sessions() as db_session:
            ref = await self.access.catalog.by_name(
                db_session, owner_id=self.owner_id, name=template_name
            )
        if ref is None:
            raise NotFound(f"no active template named {template_name!r}")
        return await self._conversation().start(ref, variables)
