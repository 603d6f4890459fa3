"""Recording what Meta accepted: the wamid lands on its row, or is parked until it can.

Once Meta has answered a send, its wamid is the only proof that the message went out. The
sender hands it to :meth:`SentRecorder.record`, which writes it in one transaction with the
status webhooks that overtook the answer. When that write fails (the database restarts,
the connection was cut), the send is parked at once (:mod:`convoflow.jobs.parked_sends`),
so even a process that dies from here on sends nothing twice, and the write is retried on
fresh connections with backoff while the sender's claim on the row lasts. A write that
lands drops the parked copy; one that never lands within the claim stays parked, and
:meth:`SentRecorder.settle_parked` records it before anyone claims that customer's rows
again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, bindparam, column, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.jobs.parked_sends import Customer, ParkedSend, ParkedSends
from convoflow.services.inbox.early_statuses import apply_early_statuses_of
from convoflow.services.live import LiveEvent, announce, status_event
from convoflow.services.outbox.window import SERVICE_WINDOW
from convoflow.store.types import UTCDateTime

__all__ = ["FIRST_RETRY_SECONDS", "MAX_RETRY_SECONDS", "SentRecorder"]

logger = logging.getLogger(__name__)

#: Backoff of the retried write: from this, doubling, up to :data:`MAX_RETRY_SECONDS`.
FIRST_RETRY_SECONDS = 0.05
MAX_RETRY_SECONDS = 1.0
#: Tries to record a parked send before a claim: right after a restart the first try often
#: meets a pooled connection the restart cut (which discards the pool's old connections).
SETTLE_TRIES = 3


class SentRecorder:
    """Writes accepted sends to their rows; parks and retries when the database is away."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        parked: ParkedSends,
        clock: Clock = SystemClock(),
    ) -> None:
        self.db_sessions = db_sessions
        self.parked = parked
        self.clock = clock

    async def record(self, send: ParkedSend, *, claimed_until: datetime) -> bool:
        """Record ``send`` on its row; False when it is parked instead (database away).

        Retries run until ``claimed_until`` (the sender's claim on the row); each attempt,
        the first one too, gets at most the claim's remaining time (at least a second).
        """
        try:
            await self._write_within(send, claimed_until)
            return True
        except asyncio.CancelledError:
            await self.parked.park(send)  # stopping: keep the proof before going
            raise
        except Exception as error:  # whatever failed, the wamid must not be lost
            logger.warning(
                "message %s was accepted as %s but not recorded (%r); parked, retrying",
                send.message_id,
                send.wamid,
                error,
            )
        await self.parked.park(send)
        if await self._retry_until(send, claimed_until):
            await self._forget(send)
            return True
        logger.warning(
            "message %s stays parked as %s until the database is back",
            send.message_id,
            send.wamid,
        )
        return False

    async def record_many(
        self, sends: Sequence[ParkedSend], *, claimed_until: Sequence[datetime]
    ) -> list[bool]:
        """Record every one of ``sends`` in one transaction; for each, True when recorded,
        False when parked instead (``claimed_until``: each send's claim, in order).

        When that transaction fails, each send goes through :meth:`record` (parked at once,
        retried within its claim), so a batch fails no send a single write would record.
        """
        if not sends:
            return []
        try:
            async with asyncio.timeout(max(self._left(min(claimed_until)), 1.0)):
                await self._write(sends)
            return [True] * len(sends)
        except asyncio.CancelledError:
            for send in sends:  # stopping: keep the proof before going
                await self.parked.park(send)
            raise
        except Exception as error:
            logger.warning(
                "%d accepted send(s) not recorded together (%r); recording one by one",
                len(sends),
                error,
            )
        return list(
            await asyncio.gather(
                *(
                    self.record(send, claimed_until=until)
                    for send, until in zip(sends, claimed_until, strict=True)
                )
            )
        )

    async def settle_parked(self, customers: Sequence[Customer]) -> list[Customer]:
        """Record the parked sends of ``customers``; those whose parked sends are all
        recorded now (in their order), the only ones whose rows may be claimed.
        """
        blocked: set[Customer] = set()
        for send in await self.parked.for_customers(customers):
            customer = (send.owner_id, send.customer_key)
            if customer in blocked:
                continue
            if not await self._write_tries(send, SETTLE_TRIES):
                blocked.add(customer)  # its later parked sends wait too: claim nothing
                continue
            await self._forget(send)
            logger.info("parked message %s recorded as sent (%s)", send.message_id, send.wamid)
        return [customer for customer in customers if customer not in blocked]

    async def _write_tries(self, send: ParkedSend, tries: int) -> bool:
        delay = FIRST_RETRY_SECONDS
        for attempt in range(1, tries + 1):
            try:
                await self._write([send])
                return True
            except Exception as error:
                if attempt == tries:
                    logger.warning(
                        "parked message %s (%s) still not recorded: %r",
                        send.message_id,
                        send.wamid,
                        error,
                    )
                    return False
            await asyncio.sleep(delay)
            delay *= 2
        return False

    async def _retry_until(self, send: ParkedSend, claimed_until: datetime) -> bool:
        delay = FIRST_RETRY_SECONDS
        while self.clock.now() < claimed_until:
            await asyncio.sleep(delay)
            try:
                await self._write_within(send, claimed_until)
                return True
            except Exception as error:
                logger.debug("recording message %s failed again: %r", send.message_id, error)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
        return False

    def _left(self, claimed_until: datetime) -> float:
        return (claimed_until - self.clock.now()).total_seconds()

    async def _write_within(self, send: ParkedSend, claimed_until: datetime) -> None:
        async with asyncio.timeout(max(self._left(claimed_until), 1.0)):
            await self._write([send])

    async def _write(self, sends: Sequence[ParkedSend]) -> None:
        """The rows are ``sent`` with their wamids, early statuses applied, in one
        transaction.

        A row no longer queued (settled meanwhile) is left alone.
        """
        now = self.clock.now()
        async with self.db_sessions.begin() as db_session:
            recorded = await _mark_sent(db_session, sends, now=now)
            for send in sends:
                if send.message_id in recorded:
                    announce(db_session, _sent_event(send))
            # Status webhooks for these wamids may have arrived before Meta's answer: apply
            # them in the transaction that records the wamids, so none is left behind.
            await apply_early_statuses_of(db_session, [send.wamid for send in sends], now=now)

    async def _forget(self, send: ParkedSend) -> None:
        try:
            await self.parked.drop(send)
        except Exception as error:  # harmless: recording it again changes nothing
            logger.warning("could not unpark message %s: %r", send.message_id, error)


async def _mark_sent(
    db_session: AsyncSession, sends: Sequence[ParkedSend], *, now: datetime
) -> set[int]:
    """Mark the rows of ``sends`` that are still queued ``sent``; the ids that were."""
    if db_session.get_bind().dialect.name == "postgresql":
        marked = await db_session.execute(
            _MARK_SENT_PG,
            {
                "ids": [send.message_id for send in sends],
                "wamids": [send.wamid for send in sends],
                "sent_at": [send.accepted_at for send in sends],
                "now": now,
            },
        )
        return set(marked.scalars())
    # SQLite: the same in one statement, the sends as a JSON array (times in the
    # column's stored form, so they compare as the stored ones do).
    dialect = db_session.get_bind().dialect
    moment = cast(
        "Callable[[datetime], str]", _SQLITE_MOMENT.dialect_impl(dialect).bind_processor(dialect)
    )
    sent = json.dumps(
        [
            [
                send.message_id,
                send.wamid,
                moment(send.accepted_at),
                moment(send.accepted_at - SERVICE_WINDOW),
            ]
            for send in sends
        ]
    )
    marked = await db_session.execute(_MARK_SENT_SQLITE, {"sent": sent, "now": now})
    return set(marked.scalars())


# PostgreSQL: every accepted send of a batch in one statement. ``outside_window`` is true for
# a template Meta accepted while the customer's service window was closed: no message from
# them in the 24 hours before (a reply that arrived since does not reopen it after the
# fact). Such a row counts against the messaging limit.
_MARK_SENT_PG = (
    text(
        """
UPDATE whatsapp_messages m
SET status = 'sent', wamid = sent.wamid, sent_at = sent.sent_at, attempts = m.attempts + 1,
    next_attempt_at = NULL, error_code = NULL, error_text = NULL, updated_at = :now,
    -- a template sent while the customer's service window was closed counts against the
    -- messaging limit
    outside_window = (m.type = 'template' AND NOT EXISTS (
        SELECT 1 FROM contacts c
        WHERE c.owner_id = m.owner_id AND c.customer_key = m.customer
          AND c.last_inbound_at > sent.sent_at - interval '24 hours'
          AND c.last_inbound_at <= sent.sent_at))
FROM unnest(CAST(:ids AS bigint[]), CAST(:wamids AS varchar[]),
            CAST(:sent_at AS timestamptz[])) AS sent(id, wamid, sent_at)
WHERE m.id = sent.id AND m.status = 'queued'
RETURNING m.id
"""
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(column("id", BigInteger()))
)


_SQLITE_MOMENT = UTCDateTime()

# SQLite: every accepted send of a batch in one statement, ``outside_window`` as above;
# ``sent`` holds [id, wamid, sent_at, start of the service window at sent_at] per send.
_MARK_SENT_SQLITE = (
    text(
        """
UPDATE whatsapp_messages AS m
SET status = 'sent', wamid = sent.wamid, sent_at = sent.sent_at, attempts = m.attempts + 1,
    next_attempt_at = NULL, error_code = NULL, error_text = NULL, updated_at = :now,
    outside_window = (m.type = 'template' AND NOT EXISTS (
        SELECT 1 FROM contacts c
        WHERE c.owner_id = m.owner_id AND c.customer_key = m.customer
          AND c.last_inbound_at > sent.window_start AND c.last_inbound_at <= sent.sent_at))
FROM (
    SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS wamid,
           json_extract(value, '$[2]') AS sent_at, json_extract(value, '$[3]') AS window_start
    FROM json_each(:sent)
) AS sent
WHERE m.id = sent.id AND m.status = 'queued'
RETURNING id  -- SQLite: RETURNING names the table's columns without its alias
"""
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(column("id", BigInteger()))
)


def _sent_event(send: ParkedSend) -> LiveEvent:
    """The inbox's tick for a message Meta accepted."""
    return status_event(
        send.owner_id, customer_key=send.customer_key, message_id=send.message_id, status="sent"
    )
