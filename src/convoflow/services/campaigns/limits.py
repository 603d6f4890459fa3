"""Meta's rules on how many and when: the daily send window and the messaging limit.

The **messaging limit** caps the unique customers a business portfolio reaches outside an
open customer service window in a moving 24 hours: 250, 2,000, 10,000, 100,000 or
unlimited (the tier Meta reports for the number, ``phone_numbers.messaging_limit_tier``).
Per owner (the owner's numbers are taken as one portfolio), a customer counts when, in the
last 24 hours,

- a template message (a campaign's, a flow's ``template`` step, a re-engagement) went out
  to them while their service window was closed: the sender marks such a row
  ``outside_window`` when it records Meta's answer (:mod:`convoflow.jobs.sent_records`);
- or a campaign queued a message for them while their window was closed and it has not
  gone out yet (``campaign_recipients.counted``, status ``queued``): a reservation, so
  that one pass never queues past the limit.

A customer whose window was open when we wrote never counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import CampaignRecipient, PhoneNumber, WhatsAppMessage

__all__ = [
    "DEFAULT_TIER",
    "TIER_LIMITS",
    "Reach",
    "in_window",
    "limit_of",
    "reach_of",
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


@dataclass(frozen=True, slots=True)
class Reach:
    """Who counts against the owner's messaging limit now.

    ``count``: the unique customers counted; ``among``: which of the customers asked about
    are counted already (sending to them again costs nothing); ``release``: when the first
    of them stops counting (24 hours after their latest counted message).
    """

    count: int
    among: frozenset[str]
    release: datetime | None


async def reach_of(
    db_session: AsyncSession, owner_id: str, now: datetime, keys: list[str]
) -> Reach:
    """The owner's :class:`Reach` at ``now``, asked about the customers ``keys``.

    Counted and grouped in the database: a large campaign never loads its audience here.
    """
    since = now - MOVING_WINDOW
    touches = union_all(
        select(
            WhatsAppMessage.customer_key.label("customer_key"),
            WhatsAppMessage.sent_at.label("at"),
        ).where(
            WhatsAppMessage.owner_id == owner_id,
            # "= true", not "IS TRUE": PostgreSQL matches it to the partial index's predicate.
            WhatsAppMessage.outside_window == true(),
            WhatsAppMessage.sent_at > since,
        ),
        select(CampaignRecipient.customer_key, CampaignRecipient.queued_at).where(
            CampaignRecipient.owner_id == owner_id,
            CampaignRecipient.counted.is_(True),
            CampaignRecipient.status == "queued",
            CampaignRecipient.queued_at > since,
        ),
    ).subquery()
    per_customer = (
        select(touches.c.customer_key, func.max(touches.c.at).label("latest"))
        .group_by(touches.c.customer_key)
        .subquery()
    )
    count, first_latest = (
        await db_session.execute(select(func.count(), func.min(per_customer.c.latest)))
    ).one()
    among: frozenset[str] = frozenset()
    if keys and count:
        among = frozenset(
            (
                await db_session.scalars(
                    select(per_customer.c.customer_key).where(per_customer.c.customer_key.in_(keys))
                )
            ).all()
        )
    release = first_latest + MOVING_WINDOW if first_latest is not None else None
    return Reach(count=int(count), among=among, release=release)
