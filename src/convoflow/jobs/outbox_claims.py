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
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    String,
    bindparam,
    column,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from convoflow.jobs.parked_sends import Customer
from convoflow.store.local_channels import LOCAL_CHANNELS
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import JsonDocument, UTCDateTime

__all__ = [
    "CLAIM_SECONDS",
    "NEVER_DELIVERED_CHANNELS",
    "ClaimedRow",
    "Customer",
    "HeldClaim",
    "claim_heads",
    "give_back",
    "keep_claimed",
    "release_claim",
    "renew_claims",
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


@dataclass(slots=True)
class ClaimedRow:
    """A claimed head row, what is needed to send it, and the state of the claim."""

    id: int
    owner_id: str
    claimed_until: datetime
    phone_number_id: str
    customer_key: str
    type: str
    payload: dict[str, Any]
    attempts: int
    wa_id: str | None
    bsuid: str | None
    last_inbound_at: datetime | None
    priority: int = 0
    campaign_recipient_id: str | None = None
    posted: bool = False  # the Graph call started: Meta may have the message

    @property
    def customer(self) -> Customer:
        """Whose row this is."""
        return (self.owner_id, self.customer_key)

    def address(self) -> dict[str, str]:
        """``to`` (phone, with ``+``: without it Meta prepends the business's country
        code) or ``recipient`` (business-scoped user id)."""
        phone = self.wa_id or (
            None if self.bsuid or "." in self.customer_key else self.customer_key
        )
        if phone:
            return {"to": f"+{phone}" if phone.isdigit() else phone}
        return {"recipient": self.bsuid or self.customer_key}


async def claim_heads(
    connection: AsyncConnection,
    customers: Sequence[Customer],
    *,
    now: datetime,
    until: datetime,
) -> list[ClaimedRow]:
    """Claim the head queued row of each of ``customers`` until ``until`` where it is due at
    ``now``: the oldest reply, else the oldest campaign row (``priority``, then ``id``).

    Returns the claimed rows with what sending needs (the contact's addresses and last
    inbound time joined in), in no particular order; a customer with nothing due, or whose
    head another sender holds, has none.
    """
    if not customers:
        return []
    if connection.dialect.name == "postgresql":
        result = await connection.execute(
            _CLAIM_HEADS_PG,
            {
                "owners": [owner for owner, _ in customers],
                "customers": [customer for _, customer in customers],
                "local": sorted(NEVER_DELIVERED_CHANNELS),
                "now": now,
                "until": until,
            },
        )
        return [_claimed(row, until, row) for row in result]
    # SQLite: no UPDATE inside a WITH and RETURNING sees only the updated table, so the
    # claim and the contacts are two statements, each for the whole batch.
    wanted = json.dumps([[owner, customer] for owner, customer in customers])
    heads = (
        await connection.execute(
            _CLAIM_HEADS_SQLITE, {"wanted": wanted, "now": now, "until": until}
        )
    ).all()
    if not heads:
        return []
    claimed_customers = json.dumps([[head.owner_id, head.customer] for head in heads])
    contacts = {
        (contact.owner_id, contact.customer_key): contact
        for contact in await connection.execute(_CONTACTS_SQLITE, {"customers": claimed_customers})
    }
    return [_claimed(head, until, contacts.get((head.owner_id, head.customer))) for head in heads]


# The claimed columns, typed, for both databases' statements.
_CLAIMED_COLUMNS = (
    column("id", BigInteger()),
    column("owner_id", String()),
    column("customer", String()),
    column("phone_number_id", String()),
    column("type", String()),
    column("payload", JsonDocument),
    column("attempts", Integer()),
    column("priority", Integer()),
    column("campaign_recipient_id", String()),
)

# PostgreSQL: every customer's head row in one statement (an index probe per customer),
# claimed and returned with its contact; the outer ``status`` check keeps a row settled
# between the probe and the update untouched.
_CLAIM_HEADS_PG = (
    text(
        """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:owners AS varchar[]), CAST(:customers AS varchar[]))
        AS w(owner_id, customer)
), heads AS (
    SELECT (
        SELECT m.id FROM whatsapp_messages m
        WHERE m.owner_id = w.owner_id AND m.customer = w.customer AND m.direction = 'out'
          AND m.status = 'queued' AND m.phone_number_id <> ALL(CAST(:local AS varchar[]))
        ORDER BY m.priority, m.id LIMIT 1
    ) AS id FROM wanted w
), claimed AS (
    UPDATE whatsapp_messages m SET next_attempt_at = :until, updated_at = :now
    FROM heads
    WHERE m.id = heads.id AND m.status = 'queued'
      AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= :now)
    RETURNING m.id, m.owner_id, m.customer, m.phone_number_id, m.type, m.payload,
              m.attempts, m.priority, m.campaign_recipient_id
)
SELECT claimed.*, c.wa_id, c.bsuid, c.last_inbound_at
FROM claimed LEFT JOIN contacts c
  ON c.owner_id = claimed.owner_id AND c.customer_key = claimed.customer
"""
    )
    .bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("until", type_=UTCDateTime()),
    )
    .columns(
        *_CLAIMED_COLUMNS,
        column("wa_id", String()),
        column("bsuid", String()),
        column("last_inbound_at", UTCDateTime()),
    )
)


# SQLite: every customer's head row (``wanted``: a JSON array of [owner, customer]) in one
# UPDATE; the outer ``status`` and due checks are the claim itself.
_CLAIM_HEADS_SQLITE = (
    text(
        """
UPDATE whatsapp_messages SET next_attempt_at = :until, updated_at = :now
WHERE id IN (
    SELECT (
        SELECT m.id FROM whatsapp_messages m
        WHERE m.owner_id = json_extract(w.value, '$[0]')
          AND m.customer = json_extract(w.value, '$[1]')
          AND m.direction = 'out' AND m.status = 'queued'
          AND m.phone_number_id NOT IN (SELECT value FROM json_each(:local))
        ORDER BY m.priority, m.id LIMIT 1
    ) FROM json_each(:wanted) AS w
)
  AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
RETURNING id, owner_id, customer, phone_number_id, type, payload, attempts, priority,
          campaign_recipient_id
"""
    )
    .bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("until", type_=UTCDateTime()),
        local=json.dumps(sorted(NEVER_DELIVERED_CHANNELS)),
    )
    .columns(*_CLAIMED_COLUMNS)
)

# SQLite: the contacts of the claimed customers (``customers``: JSON [owner, customer]).
_CONTACTS_SQLITE = text(
    """
SELECT c.owner_id, c.customer_key, c.wa_id, c.bsuid, c.last_inbound_at FROM contacts c
WHERE (c.owner_id, c.customer_key) IN (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:customers)
)
"""
).columns(
    column("owner_id", String()),
    column("customer_key", String()),
    column("wa_id", String()),
    column("bsuid", String()),
    column("last_inbound_at", UTCDateTime()),
)


def _claimed(head: Row[Any], until: datetime, contact: Any) -> ClaimedRow:
    """The claimed row; ``contact`` has ``wa_id``, ``bsuid`` and ``last_inbound_at`` (or is
    None: no contact row)."""
    return ClaimedRow(
        id=head.id,
        owner_id=head.owner_id,
        claimed_until=until,
        phone_number_id=head.phone_number_id,
        customer_key=head.customer,
        type=head.type,
        payload=dict(head.payload),
        attempts=head.attempts,
        wa_id=contact.wa_id if contact else None,
        bsuid=contact.bsuid if contact else None,
        last_inbound_at=contact.last_inbound_at if contact else None,
        priority=head.priority,
        campaign_recipient_id=head.campaign_recipient_id,
    )


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


async def renew_claims(
    connection: AsyncConnection, claims: Sequence[HeldClaim], *, until: datetime
) -> None:
    """Renew each of ``claims`` that is still ours until ``until`` (and note it on the
    claim), one statement per distinct holding time; a failure is logged: the sends go on
    and a claim not renewed may lapse, nothing more."""
    by_held: dict[datetime, list[HeldClaim]] = {}
    for claim in claims:
        by_held.setdefault(claim.claimed_until, []).append(claim)
    try:
        for held_until, held in by_held.items():
            renewed = set(
                (
                    await connection.execute(
                        update(WhatsAppMessage)
                        .where(
                            WhatsAppMessage.id.in_([claim.id for claim in held]),
                            WhatsAppMessage.status == "queued",
                            WhatsAppMessage.next_attempt_at == held_until,
                        )
                        .values(next_attempt_at=until)
                        .returning(WhatsAppMessage.id)
                    )
                ).scalars()
            )
            for claim in held:
                if claim.id in renewed:
                    claim.claimed_until = until
    except Exception as error:  # the database is away: the claims may lapse, nothing more
        logger.warning("could not renew the claims on %d message(s): %r", len(claims), error)
        with contextlib.suppress(Exception):
            await connection.rollback()


async def give_back(autocommit: AsyncEngine, claims: Sequence[HeldClaim], *, now: datetime) -> None:
    """Release ``claims`` on a connection of their own (best effort: else they lapse soon)."""
    if not claims:
        return
    try:
        async with autocommit.connect() as connection:
            for claim in claims:
                await release_claim(
                    connection, message_id=claim.id, held_until=claim.claimed_until, now=now
                )
    except Exception as error:
        logger.warning("could not release the claims on %d message(s): %r", len(claims), error)
