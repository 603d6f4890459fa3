"""The sender's claim on a customer's head outbox row: taken, kept alive, given back.

A claim is the row's ``next_attempt_at`` pushed :data:`CLAIM_SECONDS` ahead in one UPDATE
that only succeeds on the customer's oldest queued row when it is due. Nobody else can take
the row (or, head-of-line, any later row of the customer) until that time, so it needs no
lock held across the Graph call and lapses by itself when its holder dies.

A claim is short, so a customer whose sender died (a crash, a killed worker) waits seconds,
not minutes. It is renewed while the sender waits on something slow (the rate limiter, a
Graph call close to its timeout) with :func:`keep_claimed`, and given back at once
(:func:`release_claim`) when a send fails before it reached Meta. Renewing and releasing
compare ``next_attempt_at`` with the holder's own claim, so a claim that lapsed and was
taken by another sender is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from convoflow.store.local_channels import LOCAL_CHANNELS
from convoflow.store.models import WhatsAppMessage

__all__ = [
    "CLAIM_SECONDS",
    "NEVER_DELIVERED_CHANNELS",
    "HeldClaim",
    "claim_head",
    "give_back",
    "keep_claimed",
    "release_claim",
    "renew_claim",
    "renew_held",
]

logger = logging.getLogger(__name__)

#: How long a claim holds a row; renewed every third of it while a send waits.
CLAIM_SECONDS = 10.0
#: Channels whose rows are delivered by someone else (the terminal chat and the builder's
#: simulator show their own).
NEVER_DELIVERED_CHANNELS = LOCAL_CHANNELS
Result = TypeVar("Result")


class HeldClaim(Protocol):
    """A claimed row as its holder knows it: which row, and until when it is held."""

    id: int
    claimed_until: datetime


async def claim_head(
    connection: AsyncConnection,
    *,
    owner_id: str,
    customer_key: str,
    now: datetime,
    until: datetime,
) -> Row[Any] | None:
    """Claim the customer's head queued row until ``until`` if it is due at ``now``: the
    oldest reply, else the oldest campaign row (``priority``, then ``id``).

    Returns the row's id, number, type, payload, attempts, priority and campaign recipient,
    or None (nothing due, or another sender holds the head).
    """
    message = WhatsAppMessage
    # Conversation replies (priority 0) before campaign rows (1), each in id order.
    head = (
        select(message.id)
        .where(
            message.owner_id == owner_id,
            message.customer_key == customer_key,
            message.direction == "out",
            message.status == "queued",
            message.phone_number_id.not_in(NEVER_DELIVERED_CHANNELS),
        )
        .order_by(message.priority, message.id)
        .limit(1)
        .scalar_subquery()
    )
    claimed = await connection.execute(
        update(message)
        .where(
            message.id == head,
            or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
        )
        .values(next_attempt_at=until, updated_at=now)
        .returning(
            message.id,
            message.phone_number_id,
            message.type,
            message.payload,
            message.attempts,
            message.priority,
            message.campaign_recipient_id,
        )
    )
    return claimed.first()


async def renew_claim(
    connection: AsyncConnection, *, message_id: int, held_until: datetime, until: datetime
) -> bool:
    """Move our claim (held until ``held_until``) to ``until``; False when it is not ours."""
    renewed = await connection.execute(
        update(WhatsAppMessage)
        .where(
            WhatsAppMessage.id == message_id,
            WhatsAppMessage.status == "queued",
            WhatsAppMessage.next_attempt_at == held_until,
        )
        .values(next_attempt_at=until)
    )
    return bool(renewed.rowcount)


async def release_claim(
    connection: AsyncConnection, *, message_id: int, held_until: datetime, now: datetime
) -> bool:
    """Give our claim back: the row is due again at ``now``; False when it was not ours."""
    released = await connection.execute(
        update(WhatsAppMessage)
        .where(
            WhatsAppMessage.id == message_id,
            WhatsAppMessage.status == "queued",
            WhatsAppMessage.next_attempt_at == held_until,
        )
        .values(next_attempt_at=now)
    )
    return bool(released.rowcount)


async def keep_claimed(
    work: Awaitable[Result], *, renew_every: float, renew: Callable[[], Awaitable[None]]
) -> Result:
    """Await ``work``, calling ``renew`` each ``renew_every`` seconds until it is done.

    ``renew`` runs in this task while ``work`` runs in its own, so the two never share a
    database connection at the same moment. When this is cancelled, ``work`` is too.
    """
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=renew_every)
            if done:
                return task.result()
            await renew()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def renew_held(connection: AsyncConnection, claim: HeldClaim, *, until: datetime) -> None:
    """Renew ``claim`` until ``until`` (and note it), or log why not: the send goes on."""
    try:
        if await renew_claim(
            connection, message_id=claim.id, held_until=claim.claimed_until, until=until
        ):
            claim.claimed_until = until
    except Exception as error:  # the database is away: the claim may lapse, nothing more
        logger.warning("could not renew the claim on message %s: %r", claim.id, error)
        with contextlib.suppress(Exception):
            await connection.rollback()


async def give_back(autocommit: AsyncEngine, claim: HeldClaim, *, now: datetime) -> None:
    """Release ``claim`` on a connection of its own (best effort: else it lapses soon)."""
    try:
        async with autocommit.connect() as connection:
            await release_claim(
                connection, message_id=claim.id, held_until=claim.claimed_until, now=now
            )
    except Exception as error:
        logger.warning("could not release the claim on message %s: %r", claim.id, error)
