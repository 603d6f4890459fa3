"""Recipients follow their outbox rows: sent, delivered, read, or what a failure means.

The outbox row (``whatsapp_messages``) is where the sender and the status webhooks record
what happened; :func:`follow_outbox` carries it over to the recipient, forward only
(:data:`~convoflow.store.models.campaigns.RECIPIENT_STATUS_RANK`). A failure means, by
Meta's error code:

===========================  ===============================================================
131049 (per-user marketing   ``deferred`` for 24 hours, at most twice; the third time
limit)                       ``skipped``. (Meta did not deliver it, so a ``sent`` recipient
                             may be deferred too.)
131026 (undeliverable)       ``failed``
131050 (opted out of         ``skipped``, and the contact is opted out of campaigns
marketing)
131048, 131064               ``deferred``; every campaign of the owner on that number is
                             paused, saying why
132000–132016 (template)     ``deferred``; the campaign is paused, saying why
withdrawn (pause, cancel,    ``deferred`` (paused), ``skipped`` (cancelled), ``opted_out``
opt-out)
anything else                ``failed`` with the code
===========================  ===============================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import GraphErrorCode
from convoflow.services.campaigns.lifecycle import pause_in_transaction
from convoflow.services.campaigns.withdraw import WITHDRAWN, withdraw_queued
from convoflow.store.models import CampaignRecipient, Contact, MarketingCampaign, WhatsAppMessage
from convoflow.store.models.campaigns import RECIPIENT_STATUS_RANK

__all__ = ["MARKETING_DEFERRAL", "follow_outbox", "opt_out_contact"]

#: How long a 131049 defers a recipient, and how often before they are skipped.
MARKETING_DEFERRAL = timedelta(hours=24)
MAX_DEFERRALS = 2
BATCH = 1000
_NUMBER_STOPPERS = {
    int(GraphErrorCode.SPAM_RATE_LIMIT): "spam rate limit (131048)",
    131064: "messaging limit for template classification violations (131064)",
}
_TEMPLATE_CODES = range(132000, 133000)
_TIMESTAMPS = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
_BELOW = {
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
}


async def follow_outbox(db_session: AsyncSession, *, now: datetime) -> int:
    """Carry what happened to campaign outbox rows over to their recipients (a batch of
    at most :data:`BATCH`); returns how many recipients moved."""
    recipient, message = CampaignRecipient, WhatsAppMessage
    rows = (
        await db_session.execute(
            select(
                recipient,
                message.status,
                message.error_code,
                message.error_text,
                message.wamid,
                message.sent_at,
            )
            .join(message, message.id == recipient.message_id)
            .where(
                recipient.status.in_(("queued", "sent", "delivered")),
                message.status != recipient.status,
            )
            .order_by(recipient.id)
            .limit(BATCH)
        )
    ).all()
    moved = 0
    for row, status, code, text, wamid, sent_at in rows:
        if status == "queued":
            continue
        if status in _TIMESTAMPS:
            moved += _advance(row, status, wamid, sent_at, now)
        elif status == "failed":
            await _failed(db_session, row, code, text or "", now)
            moved += 1
    return moved


def _advance(
    row: CampaignRecipient, status: str, wamid: str | None, sent_at: datetime | None, now: datetime
) -> int:
    if RECIPIENT_STATUS_RANK[status] <= RECIPIENT_STATUS_RANK[row.status]:
        return 0
    row.status, row.wamid, row.updated_at = status, wamid, now
    for reached in _BELOW[status]:
        column = _TIMESTAMPS[reached]
        if getattr(row, column) is None:
            setattr(row, column, sent_at if reached == "sent" and sent_at else now)
    return 1


def _final(row: CampaignRecipient, status: str, code: int | None, text: str, now: datetime) -> None:
    row.status, row.error_code, row.error_text = status, code, text[:1000] or None
    row.finished_at = row.updated_at = now


def _defer(row: CampaignRecipient, until: datetime | None, text: str, now: datetime) -> None:
    row.status, row.deferred_until, row.error_text, row.updated_at = "deferred", until, text, now


async def _failed(
    db_session: AsyncSession, row: CampaignRecipient, code: int | None, text: str, now: datetime
) -> None:
    if text.startswith(WITHDRAWN):
        reason = text.removeprefix(WITHDRAWN)
        if reason == "opted out":
            _final(row, "opted_out", None, "", now)
        elif reason == "campaign cancelled":
            _final(row, "skipped", None, reason, now)
        elif reason.startswith("campaign"):
            _defer(row, None, reason, now)
        return
    if code == GraphErrorCode.MARKETING_PER_USER_LIMIT:
        if row.defer_count >= MAX_DEFERRALS:
            _final(row, "skipped", code, text, now)
        else:
            row.defer_count += 1
            row.error_code = code
            _defer(row, now + MARKETING_DEFERRAL, text, now)
        return
    if code == GraphErrorCode.MARKETING_OPT_OUT:
        _final(row, "skipped", code, text, now)
        await opt_out_contact(db_session, row.owner_id, row.customer_key, source=str(code), now=now)
        return
    if code in _NUMBER_STOPPERS or (code is not None and code in _TEMPLATE_CODES):
        row.error_code = code
        _defer(row, None, text, now)
        await _pause_for(db_session, row, code, now)
        return
    _final(row, "failed", code, text, now)


async def _pause_for(
    db_session: AsyncSession, row: CampaignRecipient, code: int, now: datetime
) -> None:
    campaign = await db_session.get(MarketingCampaign, row.campaign_id)
    if campaign is None:
        return
    if code in _NUMBER_STOPPERS:
        reason = f"Meta stopped the number {campaign.phone_number_id}: {_NUMBER_STOPPERS[code]}"
        query: Any = select(MarketingCampaign).where(
            MarketingCampaign.owner_id == campaign.owner_id,
            MarketingCampaign.phone_number_id == campaign.phone_number_id,
            MarketingCampaign.status.in_(("scheduled", "sending")),
        )
        concerned = list((await db_session.scalars(query)).all())
    else:
        template = f"{campaign.template_name} ({campaign.template_language})"
        reason = f"template {template} refused: error {code}"
        concerned = [campaign] if campaign.status in ("scheduled", "sending") else []
    for each in concerned:
        await pause_in_transaction(db_session, each, reason=reason, now=now)


async def opt_out_contact(
    db_session: AsyncSession, owner_id: str, customer_key: str, *, source: str, now: datetime
) -> None:
    """Opt the contact out of campaigns (recorded with its time and source) and withdraw
    what is queued for them."""
    await db_session.execute(
        update(Contact)
        .where(
            Contact.owner_id == owner_id,
            Contact.customer_key == customer_key,
            Contact.opted_out.is_(False),
        )
        .values(opted_out=True, opted_out_at=now, opt_out_source=source)
    )
    mine = (CampaignRecipient.owner_id == owner_id) & (
        CampaignRecipient.customer_key == customer_key
    )
    await withdraw_queued(
        db_session,
        mine,
        reason="opted out",
        recipient_status="opted_out",
        now=now,
        recipient_values={"finished_at": now},
    )
    await db_session.execute(
        update(CampaignRecipient)
        .where(mine, CampaignRecipient.status.in_(("pending", "deferred")))
        .values(status="opted_out", finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
