"""Delivery statuses that overtake the send: kept until the wamid is recorded, then applied.

Meta answers a send with the new message's wamid and, independently, sends status webhooks
(``sent``, ``delivered``, ``read``, ``failed``) for that wamid. The webhook can arrive while
the sender is still recording the wamid from the answer; a status that finds no row would
then be lost. Instead it waits in ``pending_statuses`` (one row per wamid and status) and
the sender applies it in the transaction that records the wamid, with the same rules as a
status that arrives later (:func:`~convoflow.services.inbox.intake.apply_statuses`: forward only,
``failed`` final, 131047 queues the re-engagement template once). Statuses whose wamid never
appears (a message sent by another tool on the same number) are purged after
:data:`EARLY_STATUS_TTL`.

Both sides take a transaction-scoped lock on the wamid on PostgreSQL (SQLite has one
writer at a time, which serialises them anyway), so whichever commits second sees the other:
either the webhook finds the recorded row, or the sender finds the kept status.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.inbox.intake import StatusRecord, apply_statuses
from convoflow.store.models import OUTBOUND_STATUS_RANK, PendingStatus, WhatsAppMessage
from convoflow.store.models.statuses import WAMID_MAX_LENGTH
from convoflow.store.upsert import insert_for

__all__ = [
    "EARLY_STATUS_TTL",
    "apply_early_statuses",
    "apply_early_statuses_of",
    "apply_webhook_statuses",
    "purge_early_statuses",
]

logger = logging.getLogger(__name__)

#: How long a status waits for its wamid before the sweeper drops it.
EARLY_STATUS_TTL = timedelta(days=7)
#: Statuses Meta reports for a sent message (``queued`` is ours, never Meta's).
_REPORTED_STATUSES = frozenset(status for status, rank in OUTBOUND_STATUS_RANK.items() if rank)


async def apply_webhook_statuses(
    db_session: AsyncSession, statuses: Sequence[StatusRecord], *, now: datetime
) -> int:
    """Apply a webhook's statuses, keeping those whose wamid no message carries yet.

    Runs in the webhook's transaction; returns how many rows moved (as ``apply_statuses``).
    """
    keepable = [status for status in statuses if _keepable(status)]
    await _lock_wamids(db_session, {status.wamid for status in keepable})
    moved = await apply_statuses(db_session, list(statuses), now=now)
    await _keep_unmatched(db_session, keepable, now=now)
    return moved


async def apply_early_statuses(db_session: AsyncSession, wamid: str, *, now: datetime) -> int:
    """Apply the statuses that arrived for ``wamid`` before it was recorded.

    Call in the transaction that records ``wamid`` on its outbound row, after the row
    carries it; ``now`` is when the statuses are applied. Returns how many statuses moved
    the row. While no row carries the wamid
    (the record did not happen), the statuses stay for a later try or the purge.
    """
    return await apply_early_statuses_of(db_session, [wamid], now=now)


async def apply_early_statuses_of(
    db_session: AsyncSession, wamids: Collection[str], *, now: datetime
) -> int:
    """:func:`apply_early_statuses` for many wamids recorded in one transaction: one lock
    statement and one delete for all of them (almost always nothing is waiting)."""
    if not wamids:
        return 0
    await _lock_wamids(db_session, wamids)
    recorded = exists(
        select(WhatsAppMessage.id).where(WhatsAppMessage.wamid == PendingStatus.wamid)
    )
    taken = await db_session.execute(
        delete(PendingStatus)
        .where(PendingStatus.wamid.in_(list(wamids)), recorded)
        .returning(
            PendingStatus.wamid,
            PendingStatus.status,
            PendingStatus.error_code,
            PendingStatus.error_text,
        )
        .execution_options(synchronize_session=False)
    )
    early = sorted(taken.all(), key=lambda row: OUTBOUND_STATUS_RANK[row.status])
    if not early:
        return 0
    logger.info("applying %d status(es) that arrived before their wamid was recorded", len(early))
    return await apply_statuses(
        db_session,
        [StatusRecord(row.wamid, row.status, row.error_code, row.error_text) for row in early],
        now=now,
    )


async def purge_early_statuses(db_session: AsyncSession, *, now: datetime) -> int:
    """Drop kept statuses older than :data:`EARLY_STATUS_TTL`; returns how many went."""
    purged = await db_session.execute(
        delete(PendingStatus)
        .where(PendingStatus.received_at < now - EARLY_STATUS_TTL)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(purged, "rowcount", 0) or 0)
    if count:
        logger.info("dropped %d status(es) whose wamid never showed up", count)
    return count


def _keepable(status: StatusRecord) -> bool:
    """A status of a sent message whose wamid fits a message row (others cannot match)."""
    return status.status in _REPORTED_STATUSES and 0 < len(status.wamid) <= WAMID_MAX_LENGTH


async def _keep_unmatched(
    db_session: AsyncSession, statuses: list[StatusRecord], *, now: datetime
) -> None:
    """Store the statuses no message row carries the wamid of (first one per wamid+status)."""
    if not statuses:
        return
    wanted = {status.wamid for status in statuses}
    known = set(
        await db_session.scalars(
            select(WhatsAppMessage.wamid).where(WhatsAppMessage.wamid.in_(wanted))
        )
    )
    unmatched: dict[tuple[str, str], StatusRecord] = {}
    for status in statuses:
        if status.wamid not in known:
            unmatched.setdefault((status.wamid, status.status), status)
    if not unmatched:
        return
    await db_session.execute(
        insert_for(db_session, PendingStatus)
        .values(
            [
                {
                    "wamid": status.wamid,
                    "status": status.status,
                    "error_code": status.error_code,
                    "error_text": status.error_text,
                    "received_at": now,
                }
                for status in unmatched.values()
            ]
        )
        .on_conflict_do_nothing(index_elements=["wamid", "status"])
    )


async def _lock_wamids(db_session: AsyncSession, wamids: Iterable[str]) -> None:
    """Hold each wamid's advisory lock until commit (PostgreSQL; sorted, so two
    transactions never wait for each other in a circle; one statement for all)."""
    if db_session.get_bind().dialect.name != "postgresql":
        return
    names = sorted(f"convoflow:status:{wamid}" for wamid in set(wamids))
    if names:
        # unnest yields the names in array order, so the locks are taken in that order.
        await db_session.execute(_LOCK_NAMES, {"names": names})


_LOCK_NAMES = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(name, 0))"
    " FROM unnest(CAST(:names AS text[])) AS name"
)
