"""Meta's rules on how many and when: the daily send window and the messaging limit.

The **messaging limit** caps the unique customers a business portfolio reaches outside an
open customer service window in a moving 24 hours: 250, 2,000, 10,000, 100,000 or
unlimited (the tier Meta reports for the number, ``phone_numbers.messaging_limit_tier``).
convoflow counts a campaign recipient when their message is queued while their window is
closed (no message from them in the last 24 hours), per owner — the owner's numbers are
taken as one portfolio.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import CampaignRecipient, PhoneNumber

__all__ = [
    "DEFAULT_TIER",
    "TIER_LIMITS",
    "in_window",
    "limit_of",
    "reached_outside_window",
    "service_window_open",
]

#: Unique customers per moving 24 h of each tier (None: unlimited).
TIER_LIMITS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
}
#: A number whose tier is not known is treated as a new one.
DEFAULT_TIER = "TIER_250"
MOVING_WINDOW = timedelta(hours=24)
SERVICE_WINDOW = timedelta(hours=24)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_window(now: datetime, zone: str, start: str | None, end: str | None) -> bool:
    """True when the local time in ``zone`` is inside the daily window [start, end) (one
    that ends before it starts runs over midnight); always True without a window."""
    if start is None or end is None:
        return True
    local = now.astimezone(ZoneInfo(zone)).time().replace(second=0, microsecond=0)
    begin, finish = _clock(start), _clock(end)
    if begin < finish:
        return begin <= local < finish
    return local >= begin or local < finish


def service_window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True when the customer wrote in the last 24 hours."""
    return last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW


async def limit_of(db_session: AsyncSession, owner_id: str, phone_number_id: str) -> int | None:
    """The messaging limit of the number's portfolio (None: unlimited)."""
    tier = await db_session.scalar(
        select(PhoneNumber.messaging_limit_tier).where(
            PhoneNumber.owner_id == owner_id, PhoneNumber.phone_number_id == phone_number_id
        )
    )
    return TIER_LIMITS.get(tier or DEFAULT_TIER, TIER_LIMITS[DEFAULT_TIER])


async def reached_outside_window(
    db_session: AsyncSession, owner_id: str, now: datetime
) -> tuple[set[str], datetime | None]:
    """The customers the owner's campaigns reached outside a service window in the last
    24 hours, and when the oldest of them stops counting."""
    since = now - MOVING_WINDOW
    rows = await db_session.execute(
        select(CampaignRecipient.customer_key, func.min(CampaignRecipient.queued_at))
        .where(
            CampaignRecipient.owner_id == owner_id,
            CampaignRecipient.counted.is_(True),
            CampaignRecipient.queued_at > since,
        )
        .group_by(CampaignRecipient.customer_key)
    )
    reached: set[str] = set()
    oldest: datetime | None = None
    for customer_key, first in rows:
        reached.add(customer_key)
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    return reached, (oldest + MOVING_WINDOW if oldest is not None else None)
