"""Campaigns through the admin API and the CLI: create, choose the audience, preview,
schedule, pause, resume, cancel, and read the recipients and the funnel.

Lifecycle: ``draft`` → ``scheduled`` → ``sending`` ⇄ ``paused`` → ``completed``;
``cancelled`` from any state before ``completed``. Every change is one committed
transaction, so it holds across restarts; the scheduler (:mod:`.scheduler`) reads it on
its next pass (about a second) and the sender refuses rows of a campaign that is no longer
sending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.campaigns.audience import Audience, valid_timezone
from convoflow.services.campaigns.content import check_template, render_payload
from convoflow.services.campaigns.withdraw import withdraw_queued
from convoflow.store.models import (
    CampaignRecipient,
    Contact,
    MarketingCampaign,
    PhoneNumber,
    WorkflowTemplate,
)
from convoflow.store.paging import PageRequest, read_page
from convoflow.store.types import new_id

__all__ = [
    "AudienceReport",
    "CampaignDraft",
    "Funnel",
    "Schedule",
    "cancel",
    "create_campaign",
    "funnel",
    "get_campaign",
    "list_campaigns",
    "pause",
    "preview",
    "recipients_page",
    "resume",
    "schedule",
    "set_audience",
]

EDITABLE = ("draft", "scheduled")
CANCELLABLE = ("draft", "scheduled", "sending", "paused")
_INSERT_CHUNK = 1000
MAX_MPS = 1000.0


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    """What ``POST /api/campaigns`` gives."""

    name: str
    template_name: str
    template_language: str
    parameters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    phone_number_id: str | None = None
    reply_template: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """When and how fast: ``start_at`` None is now; the window is local ``HH:MM`` times in
    the campaign's timezone or each recipient's (``window_timezone``)."""

    start_at: datetime | None = None
    timezone: str = "UTC"
    window_start: str | None = None
    window_end: str | None = None
    window_timezone: str = "campaign"
    max_mps: float = 10.0


@dataclass(slots=True)
class AudienceReport:
    """What an audience upload did."""

    recipients: int = 0
    rejected: int = 0
    duplicates: int = 0
    opted_out: int = 0
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Funnel:
    """A campaign's funnel and failures by error code."""

    targeted: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0
    opted_out: int = 0
    failures: dict[str, int] = field(default_factory=dict)


async def _own_number(db_session: AsyncSession, owner_id: str, phone_number_id: str | None) -> str:
    query = select(PhoneNumber.phone_number_id).where(PhoneNumber.owner_id == owner_id)
    if phone_number_id:
        query = query.where(PhoneNumber.phone_number_id == phone_number_id)
    found = await db_session.scalar(query.order_by(PhoneNumber.created_at).limit(1))
    if found is None:
        raise InvalidData(
            "phone_number_id",
            "is not one of your numbers" if phone_number_id else "you have no WhatsApp number",
        )
    return found


async def _check_reply_template(db_session: AsyncSession, owner_id: str, name: str) -> None:
    found = await db_session.scalar(
        select(WorkflowTemplate.id).where(
            WorkflowTemplate.template_name == name,
            WorkflowTemplate.is_latest.is_(True),
            (WorkflowTemplate.owner_id == owner_id) | WorkflowTemplate.is_builtin.is_(True),
        )
    )
    if found is None:
        raise InvalidData("reply_template", f"no template named {name!r}")


async def create_campaign(
    db_session: AsyncSession, *, owner_id: str, draft: CampaignDraft, now: datetime
) -> MarketingCampaign:
    """A new ``draft`` campaign (template and mapping checked against the synced ones)."""
    async with db_session.begin():
        number = await _own_number(db_session, owner_id, draft.phone_number_id)
        mapping = {key: list(texts) for key, texts in draft.parameters.items()}
        await check_template(
            db_session,
            owner_id=owner_id,
            name=draft.template_name,
            language=draft.template_language,
            mapping=mapping,
        )
        if draft.reply_template:
            await _check_reply_template(db_session, owner_id, draft.reply_template)
        campaign = MarketingCampaign(
            id=new_id(),
            owner_id=owner_id,
            name=draft.name,
            status="draft",
            phone_number_id=number,
            template_name=draft.template_name,
            template_language=draft.template_language,
            parameters=mapping,
            audience={},
            timezone="UTC",
            window_timezone="campaign",
            max_mps=10.0,
            reply_template=draft.reply_template,
            batches=0,
            created_at=now,
            updated_at=now,
        )
        db_session.add(campaign)
    return campaign


async def _campaign(
    db_session: AsyncSession, owner_id: str, campaign_id: str, *, lock: bool = False
) -> MarketingCampaign:
    query = select(MarketingCampaign).where(
        MarketingCampaign.id == campaign_id, MarketingCampaign.owner_id == owner_id
    )
    if lock:
        query = query.with_for_update()
    campaign = (await db_session.execute(query)).scalar_one_or_none()
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


async def get_campaign(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str
) -> tuple[MarketingCampaign, Funnel]:
    """One of the owner's campaigns and its funnel."""
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id)
        return campaign, await _funnel(db_session, campaign.id)


async def list_campaigns(
    db_session: AsyncSession, *, owner_id: str, page: PageRequest
) -> tuple[list[MarketingCampaign], int]:
    """The owner's campaigns, newest first."""
    async with db_session.begin():
        rows, total = await read_page(
            db_session,
            select(MarketingCampaign)
            .where(MarketingCampaign.owner_id == owner_id)
            .order_by(MarketingCampaign.created_at.desc(), MarketingCampaign.id.desc()),
            page,
        )
        return list(rows.scalars()), total


async def set_audience(
    db_session: AsyncSession,
    *,
    owner_id: str,
    campaign_id: str,
    audience: Audience,
    description: dict[str, Any],
    now: datetime,
) -> AudienceReport:
    """Replace the recipients of a draft or scheduled campaign; contacts who opted out are
    left out (and counted)."""
    report = AudienceReport(
        rejected=audience.rejected_count,
        duplicates=audience.duplicates,
        rejected_rows=[
            {"row": row.row, "value": row.value, "reason": row.reason} for row in audience.rejected
        ],
    )
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id, lock=True)
        if campaign.status not in EDITABLE:
            raise Conflict(f"the audience of a {campaign.status} campaign cannot change")
        await db_session.execute(
            delete(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        )
        opted_out = set(
            (
                await db_session.scalars(
                    select(Contact.customer_key).where(
                        Contact.owner_id == owner_id, Contact.opted_out.is_(True)
                    )
                )
            ).all()
        )
        contacts = {
            key: contact_id
            for key, contact_id in await db_session.execute(
                select(Contact.customer_key, Contact.id).where(Contact.owner_id == owner_id)
            )
        }
        rows: list[dict[str, Any]] = []
        for recipient in audience.recipients:
            if recipient.customer_key in opted_out:
                report.opted_out += 1
                continue
            rows.append(
                {
                    "id": new_id(),
                    "campaign_id": campaign.id,
                    "owner_id": owner_id,
                    "customer_key": recipient.customer_key,
                    "contact_id": recipient.contact_id or contacts.get(recipient.customer_key),
                    "columns": dict(recipient.columns),
                    "timezone": recipient.timezone,
                    "status": "pending",
                    "counted": False,
                    "defer_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, len(rows), _INSERT_CHUNK):
            await db_session.execute(insert(CampaignRecipient), rows[start : start + _INSERT_CHUNK])
        report.recipients = len(rows)
        campaign.audience = {
            **description,
            "recipients": report.recipients,
            "rejected": report.rejected,
            "duplicates": report.duplicates,
            "opted_out": report.opted_out,
        }
        campaign.updated_at = now
    return report


async def preview(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str, customer_key: str | None
) -> tuple[str, dict[str, Any]]:
    """The message one recipient would get (the first one when none is named)."""
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id)
        query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        if customer_key:
            query = query.where(CampaignRecipient.customer_key == customer_key)
        recipient = (
            await db_session.execute(query.order_by(CampaignRecipient.id).limit(1))
        ).scalar_one_or_none()
        if recipient is None:
            raise NotFound("no such recipient" if customer_key else "the campaign has no audience")
        contact_name = ""
        if recipient.contact_id:
            contact = await db_session.get(Contact, recipient.contact_id)
            contact_name = contact.name if contact else ""
        parameters = await check_template(
            db_session,
            owner_id=owner_id,
            name=campaign.template_name,
            language=campaign.template_language,
            mapping=campaign.parameters,
        )
        payload = render_payload(
            campaign,
            parameters,
            columns=recipient.columns,
            contact_name=contact_name,
            customer_key=recipient.customer_key,
        )
        return recipient.customer_key, payload


def _check_schedule(plan: Schedule) -> None:
    if not valid_timezone(plan.timezone):
        raise InvalidData("timezone", f"unknown timezone {plan.timezone!r}")
    if (plan.window_start is None) != (plan.window_end is None):
        raise InvalidData("window", "needs both start and end")
    for name, value in (("window.start", plan.window_start), ("window.end", plan.window_end)):
        if value is not None and not _is_clock_time(value):
            raise InvalidData(name, "must be a time of day as HH:MM")
    if plan.window_start is not None and plan.window_start == plan.window_end:
        raise InvalidData("window", "start and end must differ")
    if plan.window_timezone not in ("campaign", "recipient"):
        raise InvalidData("window.timezone", "must be campaign or recipient")
    if not 0 < plan.max_mps <= MAX_MPS:
        raise InvalidData("max_mps", f"must be above 0 and at most {MAX_MPS:g}")


def _is_clock_time(value: str) -> bool:
    hours, _, minutes = value.partition(":")
    return (
        len(value) == 5
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


async def schedule(
    db_session: AsyncSession,
    *,
    owner_id: str,
    campaign_id: str,
    plan: Schedule,
    now: datetime,
) -> MarketingCampaign:
    """Schedule a draft (or re-schedule a scheduled) campaign that has recipients."""
    _check_schedule(plan)
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id, lock=True)
        if campaign.status not in EDITABLE:
            raise Conflict(f"a {campaign.status} campaign cannot be scheduled")
        recipients = await db_session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign.id)
        )
        if not recipients:
            raise Conflict("the campaign has no recipients: set its audience first")
        await check_template(
            db_session,
            owner_id=owner_id,
            name=campaign.template_name,
            language=campaign.template_language,
            mapping=campaign.parameters,
        )
        start_at = plan.start_at
        if start_at is not None and start_at.tzinfo is None:
            start_at = start_at.replace(tzinfo=ZoneInfo(plan.timezone))
        campaign.start_at = start_at or now
        campaign.timezone = plan.timezone
        campaign.window_start, campaign.window_end = plan.window_start, plan.window_end
        campaign.window_timezone = plan.window_timezone
        campaign.max_mps = plan.max_mps
        campaign.status = "scheduled"
        campaign.updated_at = now
    return campaign


async def pause(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str, reason: str, now: datetime
) -> MarketingCampaign:
    """Pause a scheduled or sending campaign; its queued messages are withdrawn."""
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id, lock=True)
        if campaign.status == "paused":
            return campaign
        if campaign.status not in ("scheduled", "sending"):
            raise Conflict(f"a {campaign.status} campaign cannot be paused")
        await pause_in_transaction(db_session, campaign, reason=reason, now=now)
    return campaign


async def pause_in_transaction(
    db_session: AsyncSession, campaign: MarketingCampaign, *, reason: str, now: datetime
) -> None:
    """Pause ``campaign`` in the caller's transaction, withdrawing its queued rows."""
    campaign.status, campaign.paused_reason, campaign.updated_at = "paused", reason, now
    await withdraw_queued(
        db_session,
        CampaignRecipient.campaign_id == campaign.id,
        reason="campaign paused",
        recipient_status="deferred",
        now=now,
    )


async def resume(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str, now: datetime
) -> MarketingCampaign:
    """Resume a paused campaign (scheduled again if its start is still ahead)."""
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id, lock=True)
        if campaign.status != "paused":
            raise Conflict(f"a {campaign.status} campaign cannot be resumed")
        started = campaign.start_at is None or campaign.start_at <= now
        campaign.status = "sending" if started else "scheduled"
        campaign.paused_reason = None
        campaign.updated_at = now
    return campaign


async def cancel(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str, now: datetime
) -> MarketingCampaign:
    """Cancel a campaign before it completed: nobody not yet sent is sent."""
    async with db_session.begin():
        campaign = await _campaign(db_session, owner_id, campaign_id, lock=True)
        if campaign.status == "cancelled":
            return campaign
        if campaign.status not in CANCELLABLE:
            raise Conflict(f"a {campaign.status} campaign cannot be cancelled")
        campaign.status, campaign.finished_at, campaign.updated_at = "cancelled", now, now
        await withdraw_queued(
            db_session,
            CampaignRecipient.campaign_id == campaign.id,
            reason="campaign cancelled",
            recipient_status="skipped",
            now=now,
            recipient_values={"finished_at": now, "error_text": "campaign cancelled"},
        )
        await db_session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.status.in_(("pending", "deferred")),
            )
            .values(
                status="skipped", finished_at=now, error_text="campaign cancelled", updated_at=now
            )
        )
    return campaign


async def recipients_page(
    db_session: AsyncSession,
    *,
    owner_id: str,
    campaign_id: str,
    status: str | None,
    page: PageRequest,
) -> tuple[list[CampaignRecipient], int]:
    """The campaign's recipients in upload order (optionally of one status)."""
    async with db_session.begin():
        await _campaign(db_session, owner_id, campaign_id)
        query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        if status:
            query = query.where(CampaignRecipient.status == status)
        rows, total = await read_page(db_session, query.order_by(CampaignRecipient.id), page)
        return list(rows.scalars()), total


async def _funnel(db_session: AsyncSession, campaign_id: str) -> Funnel:
    rows = await db_session.execute(
        select(CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status)
    )
    by_status = {status: int(n) for status, n in rows}
    reached = await db_session.execute(
        select(
            func.count(CampaignRecipient.sent_at),
            func.count(CampaignRecipient.delivered_at),
            func.count(CampaignRecipient.read_at),
            func.count(CampaignRecipient.replied_at),
        ).where(CampaignRecipient.campaign_id == campaign_id)
    )
    sent, delivered, read, replied = reached.one()
    codes = await db_session.execute(
        select(CampaignRecipient.error_code, func.count())
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status.in_(("failed", "skipped")),
        )
        .group_by(CampaignRecipient.error_code)
    )
    return Funnel(
        targeted=sum(by_status.values()),
        by_status=by_status,
        sent=int(sent),
        delivered=int(delivered),
        read=int(read),
        replied=int(replied),
        opted_out=by_status.get("opted_out", 0),
        failures={str(code) if code is not None else "none": int(n) for code, n in codes},
    )


async def funnel(db_session: AsyncSession, *, owner_id: str, campaign_id: str) -> Funnel:
    """The campaign's funnel: targeted → sent → delivered → read → replied → opted out."""
    async with db_session.begin():
        await _campaign(db_session, owner_id, campaign_id)
        return await _funnel(db_session, campaign_id)
