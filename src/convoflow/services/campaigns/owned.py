"""Finding one of an owner's campaigns, and which statuses allow which change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import NotFound
from convoflow.store.models import MarketingCampaign

__all__ = ["CANCELLABLE", "EDITABLE", "owned_campaign"]

#: The audience and the schedule may change only before sending starts.
EDITABLE = ("draft", "scheduled")
CANCELLABLE = ("draft", "scheduled", "sending", "paused")


async def owned_campaign(
    db_session: AsyncSession, owner_id: str, campaign_id: str, *, lock: bool = False
) -> MarketingCampaign:
    """The owner's campaign (locked FOR UPDATE with ``lock``); NotFound otherwise (another
    owner's campaign too)."""
    query = select(MarketingCampaign).where(
        MarketingCampaign.id == campaign_id, MarketingCampaign.owner_id == owner_id
    )
    if lock:
        query = query.with_for_update()
    campaign = (await db_session.execute(query)).scalar_one_or_none()
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign
