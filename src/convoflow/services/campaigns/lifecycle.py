"""A campaign's lifecycle through the admin API and the CLI: create, list and read,
schedule, pause, resume and cancel.

``draft`` → ``scheduled`` → ``sending`` ⇄ ``paused`` → ``completed``; ``cancelled`` from any
state before ``completed``. Every change is one committed transaction, so it holds across
restarts; the scheduler (:mod:`.scheduler`) reads it on its next pass (about a second) and
the sender refuses rows of a campaign that is no longer sending. Who receives it is
:mod:`.recipients`'s business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, InvalidData
from convoflow.services.campaigns.audience import valid_timezone
from convoflow.services.campaigns.content import check_template
from convoflow.services.campaigns.funnel import Funnel, count_funnel
from convoflow.services.campaigns.owned import CANCELLABLE, EDITABLE, owned_campaign
from convoflow.services.campaigns.withdraw import withdraw_queued
from convoflow.store.models import (
    CampaignRecipient,
    MarketingCampaign,
    PhoneNumber,
    WorkflowTemplate,
)
from convoflow.store.paging import PageRequest, read_page
from convoflow.store.types import new_id

__all__ = [
    "MAX_MPS",
    "CampaignDraft",
    "Schedule",
    "cancel",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
    "pause",
    "pause_in_transaction",
    "resume",
    "schedule",
]

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


async def get_campaign(
    db_session: AsyncSession, *, owner_id: str, campaign_id: str
) -> tuple[MarketingCampaign, Funnel]:
    """One of the owner's campaigns and its funnel."""
    async with db_session.begin():
        campaign = await owned_campaign(db_session, owner_id, campaign_id)
        return campaign, await count_funnel(db_session, campaign.id)


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
        campaign = await owned_campaign(db_session, owner_id, campaign_id, lock=True)
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
        campaign = await owned_campaign(db_session, owner_id, campaign_id, lock=True)
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
        campaign = await owned_campaign(db_session, owner_id, campaign_id, lock=True)
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
        campaign = await owned_campaign(db_session, owner_id, campaign_id, lock=True)
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
