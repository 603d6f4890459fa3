"""A campaign's funnel: targeted → sent → delivered → read → replied → opted out, the count
per recipient status and the failures by Meta's error code, counted in the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.campaigns.owned import owned_campaign
from convoflow.store.models import CampaignRecipient

__all__ = ["Funnel", "count_funnel", "funnel"]


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


async def count_funnel(db_session: AsyncSession, campaign_id: str) -> Funnel:
    """The funnel of ``campaign_id``, in the caller's transaction."""
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
        await owned_campaign(db_session, owner_id, campaign_id)
        return await count_funnel(db_session, campaign_id)
