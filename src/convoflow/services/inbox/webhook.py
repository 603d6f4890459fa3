"""Receiving a WhatsApp webhook: route each update to its owner, store it once, move statuses.

Called by the WhatsApp channel (:mod:`convoflow.channels.whatsapp.records`) with the webhook's
records, after the signature check and parsing; one transaction per webhook,
committed before the route answers 200, so what Meta was told is received is durable.
Processing happens afterwards, in the background (:mod:`convoflow.jobs`).

Routing is by ``metadata.phone_number_id`` through :class:`PhoneNumberDirectory` (the
``phone_numbers`` table, cached). A message for a number nobody registered is stored with no
owner (status ``ignored``) and logged, never processed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.services.inbox.early_statuses import apply_webhook_statuses
from convoflow.services.inbox.intake import InboundRecord, StatusRecord, store_inbound
from convoflow.services.inbox.writer import InboxWriter
from convoflow.store.models import PhoneNumber

__all__ = ["PhoneNumberDirectory", "ReceivedWebhook", "store_webhook_records"]

logger = logging.getLogger(__name__)


class PhoneNumberDirectory:
    """``phone_number_id`` → owner id, from ``phone_numbers``, cached in the process.

    The map is reloaded every ``ttl_seconds``, and on an unknown number at most every
    ``miss_reload_seconds`` (a flood of webhooks for a foreign number costs no queries).
    """

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float = 30.0,
        miss_reload_seconds: float = 2.0,
        clock: Clock = SystemClock(),
    ) -> None:
        self.clock = clock
        self._sessions = db_sessions
        self._ttl = ttl_seconds
        self._miss_reload = miss_reload_seconds
        self._owners: dict[str, str] = {}
        self._loaded_at = float("-inf")

    async def owners(self, phone_number_ids: set[str]) -> dict[str, str]:
        """The owner of each known number among ``phone_number_ids``."""
        age = self.clock.monotonic() - self._loaded_at
        missing = not phone_number_ids <= self._owners.keys()
        if age > self._ttl or (missing and age > self._miss_reload):
            await self._reload()
        return {
            number: self._owners[number] for number in phone_number_ids if number in self._owners
        }

    def forget(self) -> None:
        """Reload on the next lookup (a number was registered or moved)."""
        self._loaded_at = float("-inf")

    async def _reload(self) -> None:
        async with self._sessions() as db_session:
            rows = await db_session.execute(
                select(PhoneNumber.phone_number_id, PhoneNumber.owner_id)
            )
            self._owners = {row.phone_number_id: row.owner_id for row in rows}
        self._loaded_at = self.clock.monotonic()


@dataclass(slots=True)
class ReceivedWebhook:
    """What one webhook stored: the customers with new messages are processed next."""

    customers: list[tuple[str, str]] = field(default_factory=list)
    messages: int = 0
    statuses: int = 0
    unrouted: list[str] = field(default_factory=list)
    skipped: int = 0
    kicked: bool = False  # the processors were woken already (by the inbox writer)


async def store_webhook_records(
    db_sessions: async_sessionmaker[AsyncSession],
    directory: PhoneNumberDirectory,
    records: list[InboundRecord],
    statuses: list[StatusRecord],
    *,
    now: datetime,
    writer: InboxWriter | None = None,
) -> ReceivedWebhook:
    """Give each message its number's owner, store every message once and apply every
    status, in one committed transaction: the ``writer``'s next batch when given (it then
    wakes the processors itself), else one of its own."""
    received = ReceivedWebhook()
    owners = await directory.owners({record.phone_number_id for record in records})
    routed = [replace(record, owner_id=owners.get(record.phone_number_id)) for record in records]
    if writer is not None and (routed or statuses):
        stored = await writer.store(routed, statuses)
        received.customers, received.statuses = stored.customers, stored.statuses
        received.kicked = True
    elif routed or statuses:
        async with db_sessions.begin() as db_session:
            received.customers = await store_inbound(db_session, routed, now=now)
            # A status may overtake the send's answer: it is kept until the wamid shows up.
            received.statuses = await apply_webhook_statuses(db_session, statuses, now=now)
    received.messages = len(routed)
    received.unrouted = sorted({r.phone_number_id for r in routed if r.owner_id is None})
    for number in received.unrouted:
        logger.warning("webhook for unregistered phone_number_id %r: stored, not processed", number)
    return received
