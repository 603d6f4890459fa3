"""Receiving a WhatsApp webhook: route each update to its owner, store it once, move statuses.

Called by ``POST /webhooks/whatsapp`` after the signature check; one transaction per webhook,
committed before the route answers 200, so what Meta was told is received is durable.
Processing happens afterwards, in the background (:mod:`convoflow.jobs`).

Routing is by ``metadata.phone_number_id`` through :class:`PhoneNumberDirectory` (the
``phone_numbers`` table, cached). A message for a number nobody registered is stored with no
owner (status ``ignored``) and logged, never processed.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.channels.whatsapp.inbound import InboundMessage, ParsedWebhook, StatusUpdate
from convoflow.services.early_statuses import apply_webhook_statuses
from convoflow.services.intake import InboundRecord, StatusRecord, store_inbound
from convoflow.store.models import PhoneNumber
from convoflow.store.types import utcnow

__all__ = ["PhoneNumberDirectory", "ReceivedWebhook", "clean_json", "receive_webhook"]

logger = logging.getLogger(__name__)

# Column sizes of whatsapp_messages / contacts: longer values cannot be stored as they are.
_MAX_PHONE_NUMBER_ID = 64
_MAX_CUSTOMER_KEY = 160
_MAX_WA_ID = 32
_MAX_TYPE = 32
_MAX_NAME = 200
_MAX_JSON_DEPTH = 64
_LATEST_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
_INT32 = 2**31


class PhoneNumberDirectory:
    """``phone_number_id`` → owner id, from ``phone_numbers``, cached in the process.

    The map is reloaded every ``ttl_seconds``, and on an unknown number at most every
    ``miss_reload_seconds`` (a flood of webhooks for a foreign number costs no queries).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float = 30.0,
        miss_reload_seconds: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._miss_reload = miss_reload_seconds
        self._owners: dict[str, str] = {}
        self._loaded_at = float("-inf")

    async def owners(self, phone_number_ids: set[str]) -> dict[str, str]:
        """The owner of each known number among ``phone_number_ids``."""
        age = time.monotonic() - self._loaded_at
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
        async with self._sessions() as session:
            rows = await session.execute(select(PhoneNumber.phone_number_id, PhoneNumber.owner_id))
            self._owners = {row.phone_number_id: row.owner_id for row in rows}
        self._loaded_at = time.monotonic()


@dataclass(slots=True)
class ReceivedWebhook:
    """What one webhook stored: the customers with new messages are processed next."""

    customers: list[tuple[str, str]] = field(default_factory=list)
    messages: int = 0
    statuses: int = 0
    unrouted: list[str] = field(default_factory=list)
    skipped: int = 0


async def receive_webhook(
    sessions: async_sessionmaker[AsyncSession],
    directory: PhoneNumberDirectory,
    parsed: ParsedWebhook,
) -> ReceivedWebhook:
    """Store every message once and apply every status, in one committed transaction."""
    received = ReceivedWebhook()
    storable = [message for message in parsed.messages if _storable(message)]
    received.skipped = len(parsed.messages) - len(storable)
    owners = await directory.owners({message.phone_number_id for message in storable})
    records = [inbound_record(message, owners.get(message.phone_number_id)) for message in storable]
    statuses = [status_record(update) for update in parsed.statuses]
    if records or statuses:
        async with sessions.begin() as session:
            received.customers = await store_inbound(session, records)
            # A status may overtake the send's answer: it is kept until the wamid shows up.
            received.statuses = await apply_webhook_statuses(session, statuses, now=utcnow())
    received.messages = len(records)
    received.unrouted = sorted({r.phone_number_id for r in records if r.owner_id is None})
    for number in received.unrouted:
        logger.warning("webhook for unregistered phone_number_id %r: stored, not processed", number)
    for notice in parsed.errors:
        logger.warning(
            "WhatsApp reported error %s for %s: %s %s",
            notice.code,
            notice.phone_number_id,
            notice.title or notice.message,
            notice.details,
        )
    if parsed.problems:
        logger.info("webhook had %d unusable parts: %s", len(parsed.problems), parsed.problems[:5])
    return received


def inbound_record(message: InboundMessage, owner_id: str | None) -> InboundRecord:
    """The storable form of one parsed message (text cleaned to what databases accept)."""
    key = message.wa_id or message.user_id
    assert key is not None  # the parser drops messages with neither
    sent_at = (
        datetime.fromtimestamp(message.timestamp, UTC)
        if 0 < message.timestamp <= _LATEST_TIMESTAMP
        else None
    )
    return InboundRecord(
        owner_id=owner_id,
        phone_number_id=clean_text(message.phone_number_id),
        wamid=clean_text(message.wamid),
        customer=clean_text(key),
        wa_id=clean_text(message.wa_id) if message.wa_id else None,
        bsuid=clean_text(message.user_id) if message.user_id else None,
        profile_name=clean_text(message.profile_name or "")[:_MAX_NAME],
        type=clean_text(message.type)[:_MAX_TYPE],
        payload=clean_json(message.raw),
        sent_at=sent_at,
    )


def status_record(update: StatusUpdate) -> StatusRecord:
    """The storable form of one status (the first error's code and text, if any)."""
    code = text = None
    if update.errors:
        first = update.errors[0]
        code = first.code if first.code is not None and abs(first.code) < _INT32 else None
        words = [part for part in (first.title or first.message, first.details) if part]
        text = clean_text(": ".join(words)) or None
    return StatusRecord(
        wamid=clean_text(update.wamid), status=update.status, error_code=code, error_text=text
    )


def _storable(message: InboundMessage) -> bool:
    """Ids that fit the columns; anything longer is not Meta's and is dropped (logged)."""
    fits = (
        len(message.phone_number_id) <= _MAX_PHONE_NUMBER_ID
        and (message.wa_id is None or len(message.wa_id) <= _MAX_WA_ID)
        and (message.user_id is None or len(message.user_id) <= _MAX_CUSTOMER_KEY)
    )
    if not fits:
        logger.info("message %.80r has oversized ids; skipped", message.wamid)
    return fits


def clean_text(value: str) -> str:
    """The text without what PostgreSQL refuses: NUL characters and lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value every database stores: clean strings, nesting cut at 64 levels."""
    if isinstance(value, str):
        return clean_text(value)
    if depth >= _MAX_JSON_DEPTH and isinstance(value, dict | list):
        return None
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # 1e400 parses as infinity, which JSON cannot hold
    return value
