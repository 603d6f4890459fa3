"""How far behind the message path is: the age of the oldest work still waiting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from convoflow.store.models import WhatsAppMessage

__all__ = ["BacklogAges", "BacklogCounts", "backlog_ages", "backlog_counts"]


@dataclass(frozen=True, slots=True)
class BacklogAges:
    """Seconds since the oldest waiting work arrived (0 when nothing waits).

    ``inbound``: the oldest inbound message still ``received`` (not processed yet);
    ``outbound``: the oldest ``queued`` outbound message that is due (not waiting for a
    retry), counted from when it was queued.
    """

    inbound: float
    outbound: float

    def as_json(self) -> dict[str, float]:
        """``{"inbound": seconds, "outbound": seconds}``, rounded to 0.1 s."""
        return {"inbound": round(self.inbound, 1), "outbound": round(self.outbound, 1)}


async def backlog_ages(
    connection: AsyncConnection, *, now: datetime, never_delivered: Sequence[str] = ()
) -> BacklogAges:
    """The backlog's ages at ``now``, in one query.

    ``never_delivered``: channels whose outbound rows no sender takes (they never count).
    """
    message = WhatsAppMessage
    oldest_inbound = (
        select(func.min(message.created_at))
        .where(
            message.direction == "in",
            message.status == "received",
            message.owner_id.is_not(None),
        )
        .scalar_subquery()
    )
    oldest_outbound = (
        select(func.min(message.created_at))
        .where(
            message.direction == "out",
            message.status == "queued",
            message.phone_number_id.not_in(list(never_delivered)),
            or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
        )
        .scalar_subquery()
    )
    row = (await connection.execute(select(oldest_inbound, oldest_outbound))).one()
    return BacklogAges(_age(row[0], now), _age(row[1], now))


@dataclass(frozen=True, slots=True)
class BacklogCounts:
    """How much work waits: ``inbound`` messages still ``received``; ``outbound`` messages
    still ``queued``, due or waiting for a retry."""

    inbound: int
    outbound: int


async def backlog_counts(
    connection: AsyncConnection, *, never_delivered: Sequence[str] = ()
) -> BacklogCounts:
    """The backlog's sizes, in one query (the outbox index covers both counts).

    ``never_delivered``: channels whose outbound rows no sender takes (they never count).
    """
    message = WhatsAppMessage
    inbound = (
        select(func.count())
        .where(
            message.direction == "in",
            message.status == "received",
            message.owner_id.is_not(None),
        )
        .scalar_subquery()
    )
    outbound = (
        select(func.count())
        .where(
            message.direction == "out",
            message.status == "queued",
            message.phone_number_id.not_in(list(never_delivered)),
        )
        .scalar_subquery()
    )
    row = (await connection.execute(select(inbound, outbound))).one()
    return BacklogCounts(int(row[0]), int(row[1]))


def _age(since: datetime | None, now: datetime) -> float:
    if since is None:
        return 0.0
    return max(0.0, (now - since).total_seconds())
