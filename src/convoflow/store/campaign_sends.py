"""The sender's one question about a campaign row: may it still go out?"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from convoflow.store.models import CampaignRecipient, Contact, MarketingCampaign

__all__ = ["send_refusal"]


async def send_refusal(connection: AsyncConnection, recipient_id: str) -> str | None:
    """Why the campaign row of this recipient must not be sent now (None: send it).

    It must not when the recipient opted out, when the recipient is no longer ``queued``
    (withdrawn, cancelled), or when its campaign is not ``sending`` (paused, cancelled).
    """
    row = (
        await connection.execute(
            select(CampaignRecipient.status, MarketingCampaign.status, Contact.opted_out)
            .join(MarketingCampaign, MarketingCampaign.id == CampaignRecipient.campaign_id)
            .outerjoin(
                Contact,
                (Contact.owner_id == CampaignRecipient.owner_id)
                & (Contact.customer_key == CampaignRecipient.customer_key),
            )
            .where(CampaignRecipient.id == recipient_id)
        )
    ).first()
    if row is None:
        return "withdrawn: the campaign is gone"
    recipient_status, campaign_status, opted_out = row
    if opted_out:
        return "withdrawn: opted out"
    if campaign_status != "sending":
        return f"withdrawn: campaign {campaign_status}"
    if recipient_status != "queued":
        return f"withdrawn: recipient {recipient_status}"
    return None
