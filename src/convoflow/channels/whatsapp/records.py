"""The WhatsApp edge of the inbox: parsed webhook updates become storable records.

Strings are cleaned to what both databases accept, ids that cannot be Meta's are dropped,
and the records go to :func:`convoflow.services.inbox.webhook.store_webhook_records`, which
routes them to their owner and stores them once.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.channels.whatsapp.inbound import (
    InboundMessage,
    ParsedWebhook,
    StatusUpdate,
    TemplateNotice,
)
from convoflow.services.campaigns.template_sync import TemplateUpdate, apply_template_updates
from convoflow.services.inbox.intake import InboundRecord, StatusRecord
from convoflow.services.inbox.webhook import (
    PhoneNumberDirectory,
    ReceivedWebhook,
    store_webhook_records,
)
from convoflow.services.inbox.writer import InboxWriter

__all__ = [
    "clean_json",
    "clean_text",
    "inbound_record",
    "receive_webhook",
    "status_record",
    "template_update",
]

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


async def receive_webhook(
    db_sessions: async_sessionmaker[AsyncSession],
    directory: PhoneNumberDirectory,
    parsed: ParsedWebhook,
    *,
    now: datetime,
    writer: InboxWriter | None = None,
) -> ReceivedWebhook:
    """Store a parsed webhook's messages and statuses (one committed transaction, shared
    with other webhooks when a ``writer`` batches them)."""
    storable = [message for message in parsed.messages if _storable(message)]
    records = [inbound_record(message) for message in storable]
    statuses = [status_record(update) for update in parsed.statuses]
    received = await store_webhook_records(
        db_sessions, directory, records, statuses, now=now, writer=writer
    )
    if parsed.templates:
        await apply_template_updates(
            db_sessions, [template_update(notice) for notice in parsed.templates], now=now
        )
    received.skipped = len(parsed.messages) - len(storable)
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


def inbound_record(message: InboundMessage, owner_id: str | None = None) -> InboundRecord:
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
        customer_key=clean_text(key),
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


def template_update(notice: TemplateNotice) -> TemplateUpdate:
    """The service's form of a template webhook."""
    return TemplateUpdate(
        waba_id=clean_text(notice.waba_id),
        graph_id=clean_text(notice.template_id) if notice.template_id else None,
        name=clean_text(notice.name) if notice.name else None,
        language=clean_text(notice.language) if notice.language else None,
        status=notice.status,
        quality=notice.quality,
        reason=clean_text(notice.reason) if notice.reason else None,
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
