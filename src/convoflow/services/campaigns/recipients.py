"""Who a campaign goes to, through the admin API and the CLI: the audience (replacing the
recipients of a draft or scheduled campaign), the preview of one recipient's message, and
the recipients page by page. The audience sources are parsed in :mod:`.audience`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, NotFound
from convoflow.services.campaigns.audience import Audience
from convoflow.services.campaigns.content import check_template, render_payload
from convoflow.services.campaigns.owned import EDITABLE, owned_campaign
from convoflow.store.models import CampaignRecipient, Contact
from convoflow.store.paging import PageRequest, read_page
from convoflow.store.types import new_id

__all__ = ["AudienceReport", "preview", "recipients_page", "set_audience"]

_INSERT_CHUNK = 1000


@dataclass(slots=True)
class AudienceReport:
    """What an audience upload did."""

    recipients: int = 0
    rejected: int = 0
    duplicates: int = 0
    opted_out: int = 0
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)


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
        campaign = await owned_campaign(db_session, owner_id, campaign_id, lock=True)
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
        campaign = await owned_campaign(db_session, owner_id, campaign_id)
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
        await owned_campaign(db_session, owner_id, campaign_id)
        query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        if status:
            query = query.where(CampaignRecipient.status == status)
        rows, total = await read_page(db_session, query.order_by(CampaignRecipient.id), page)
        return list(rows.scalars()), total
