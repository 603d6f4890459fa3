"""Outbox delivery: queued outbound rows go to the Graph API, in order, once.

Ordering and mutual exclusion come from a *head-of-line claim* in the database
(:mod:`convoflow.jobs.outbox_claims`): a sender may only take the oldest queued row of a
customer, and only when it is due; taking it pushes its ``next_attempt_at`` forward by
:attr:`SenderPolicy.claim_seconds` in one UPDATE, so a second sender (another task, another
process) finds nothing to take. That claim is the per-customer lock: it works across
processes with or without Redis, holds no transaction or row lock during the HTTP call, is
renewed while the sender waits, given back when a send fails before reaching Meta, and
expires by itself within seconds when its holder dies. A later row never overtakes an
earlier one, not even while the earlier one waits for a retry.

After the call the row is ``sent`` (with the wamid, and any status webhook for it that
arrived first applied in the same transaction), rescheduled with backoff (retryable
errors), or ``failed`` with Meta's code and message (permanent errors, or too many
attempts), and the next row of the customer follows. A wamid the database cannot take is
parked and recorded before the customer's rows are claimed again
(:mod:`convoflow.jobs.sent_records`), so an accepted message is never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Update, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.clock import Clock, SystemClock
from convoflow.errors import (
    AccessTokenUnavailable,
    GraphError,
    GraphErrorCode,
    PermanentGraphError,
    RetryableGraphError,
)
from convoflow.jobs.backoff import Backoff, pair_rate_delay
from convoflow.jobs.outbox_claims import (
    CLAIM_SECONDS,
    NEVER_DELIVERED_CHANNELS,
    claim_head,
    give_back,
    keep_claimed,
    renew_held,
)
from convoflow.jobs.parked_sends import MemoryParking, ParkedSend, ParkedSends
from convoflow.jobs.ratelimit import RateLimiter, acquire
from convoflow.jobs.sent_records import SentRecorder
from convoflow.metrics import count_send, observe_batch
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.live import publisher_of, status_event
from convoflow.services.outbox.window import (
    OUTSIDE_WINDOW_CODE,
    fall_back_outside_window,
    window_is_closed,
)
from convoflow.store.campaign_sends import send_refusal
from convoflow.store.models import Contact, WhatsAppMessage

__all__ = ["NEVER_DELIVERED_CHANNELS", "DeliveryReport", "OutboxSender", "SenderPolicy"]

logger = logging.getLogger(__name__)

_ERROR_TEXT_LIMIT = 1000
Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    """How hard the sender tries.

    ``max_attempts`` counts Graph calls per row; ``claim_seconds`` is how long a claim
    holds a row, renewed every ``renew_every`` seconds (default: a third of it) while the
    sender waits for the rate limiter or the Graph API; a rate-limit wait longer than
    ``max_inline_wait`` reschedules the row instead of holding the claim.
    """

    max_attempts: int = 8
    claim_seconds: float = CLAIM_SECONDS
    max_inline_wait: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)
    renew_every: float | None = None

    @property
    def renew_interval(self) -> float:
        """Seconds between two renewals of a claim."""
        return self.renew_every if self.renew_every is not None else self.claim_seconds / 3


@dataclass(slots=True)
class DeliveryReport:
    """What one :meth:`OutboxSender.deliver_customer` call did."""

    sent: int = 0
    failed: int = 0
    retry_at: datetime | None = None  # the head row waits for a retry until then
    parked: int = 0  # accepted by Meta, not recorded yet: the database is away


@dataclass(slots=True)
class _Claimed:
    """The claimed head row, what is needed to send it, and the state of the claim."""

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

    def address(self) -> dict[str, str]:
        """``to`` (phone, with ``+``: without it Meta prepends the business's country
        code) or ``recipient`` (business-scoped user id)."""
        phone = self.wa_id or (
            None if self.bsuid or "." in self.customer_key else self.customer_key
        )
        if phone:
            return {"to": f"+{phone}" if phone.isdigit() else phone}
        return {"recipient": self.bsuid or self.customer_key}


class OutboxSender:
    """Delivers one customer's queued rows; safe to run anywhere, any number of times.

    Each row goes out from its own ``phone_number_id`` with that number's token, from
    ``tokens`` (without it, the Graph client's own token). A number without a usable token
    fails its rows with the reason instead of calling the Graph API. ``parked`` is where
    accepted sends wait while the database cannot record them (the runtime passes Redis or
    the local journal; the default keeps them in memory, for tests).
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        db_sessions: async_sessionmaker[AsyncSession],
        graph: GraphClient,
        limiter: RateLimiter,
        policy: SenderPolicy | None = None,
        tokens: AccessTokens | None = None,
        parked: ParkedSends | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.clock = clock
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.tokens = tokens
        self.db_sessions = db_sessions
        self.graph = graph
        self.limiter = limiter
        self.policy = policy or SenderPolicy()
        self.recorder = SentRecorder(
            db_sessions=db_sessions, parked=parked or ParkedSends(MemoryParking()), clock=clock
        )

    async def deliver_customer(self, owner_id: str, customer_key: str) -> DeliveryReport:
        """Send the customer's due rows in order until none is left or the head must wait.

        Sends of this customer that Meta accepted while the database was away are recorded
        first; while that fails nothing is claimed (a parked row must not go out again).
        """
        report = DeliveryReport()
        while True:
            if await self.recorder.settle_parked(owner_id, customer_key) is None:
                return report
            row: _Claimed | None = None
            try:
                # One autocommit connection per row: every statement stands alone (no BEGIN/
                # COMMIT round trips), and a connection a database restart cut is not reused.
                async with self.autocommit.connect() as connection:
                    row = await self._claim_head(connection, owner_id, customer_key)
                    if row is None:
                        return report
                    go_on = await self._deliver(connection, row, report)
            except Exception:
                # Before the Graph call nothing went out, so the row may be taken again now
                # instead of when the claim lapses; after it, Meta may have the message, so
                # the claim is left to lapse (a short wait rather than a duplicate). A
                # cancelled run (the process stops) leaves it to lapse too.
                if row is not None and not row.posted:
                    await give_back(self.autocommit, row, now=self.clock.now())
                raise
            if not go_on:
                return report

    async def _claim_head(
        self, connection: AsyncConnection, owner_id: str, customer_key: str
    ) -> _Claimed | None:
        now = self.clock.now()
        until = now + timedelta(seconds=self.policy.claim_seconds)
        claimed = await claim_head(
            connection, owner_id=owner_id, customer_key=customer_key, now=now, until=until
        )
        if claimed is None:
            return None
        observe_batch("sender", 1)  # head-of-line: one row per claim
        contact = (
            await connection.execute(
                select(Contact.wa_id, Contact.bsuid, Contact.last_inbound_at).where(
                    Contact.owner_id == owner_id, Contact.customer_key == customer_key
                )
            )
        ).first()
        return _Claimed(
            id=claimed.id,
            owner_id=owner_id,
            claimed_until=until,
            phone_number_id=claimed.phone_number_id,
            customer_key=customer_key,
            type=claimed.type,
            payload=dict(claimed.payload),
            attempts=claimed.attempts,
            wa_id=contact.wa_id if contact else None,
            bsuid=contact.bsuid if contact else None,
            last_inbound_at=contact.last_inbound_at if contact else None,
            priority=claimed.priority,
            campaign_recipient_id=claimed.campaign_recipient_id,
        )

    async def _deliver(
        self, connection: AsyncConnection, row: _Claimed, report: DeliveryReport
    ) -> bool:
        """Send one claimed row; True when the next row may follow now."""
        try:
            token = (
                None if self.tokens is None else await self.tokens.token_for(row.phone_number_id)
            )
        except AccessTokenUnavailable as missing:  # a call that cannot succeed: say why
            await self._fail(connection, row, None, f"not sent: {missing}")
            report.failed += 1
            return True
        if window_is_closed(row.type, row.last_inbound_at, self.clock.now()):
            await self._outside_window(row, detail="")
            report.failed += 1
            return True
        if row.campaign_recipient_id is not None:
            # Paused, cancelled or opted out since it was queued: it must not go out.
            refusal = await send_refusal(connection, row.campaign_recipient_id)
            if refusal is not None:
                await self._fail(connection, row, None, refusal)
                report.failed += 1
                return True
        wait = await self._kept(
            connection,
            row,
            acquire(
                self.limiter,
                row.phone_number_id,
                max_wait=self.policy.max_inline_wait,
                spare=row.priority > 0,
            ),
        )
        if wait > 0.0:
            count_send("deferred")
            report.retry_at = await self._reschedule(connection, row, wait, attempted=False)
            return False
        row.posted = True
        try:
            wamid = await self._kept(
                connection,
                row,
                self.graph.send_message(
                    row.phone_number_id, body=row.payload, access_token=token, **row.address()
                ),
            )
        except RetryableGraphError as error:
            return await self._retry_later(connection, row, error, report)
        except PermanentGraphError as error:
            if error.code == OUTSIDE_WINDOW_CODE:
                await self._outside_window(row, detail=str(error))
            else:
                await self._fail(connection, row, error.code, str(error))
            report.failed += 1
            return True
        except ValueError as error:  # a body the client refuses: a bug, never retried
            await self._fail(connection, row, None, f"not sendable: {error}")
            report.failed += 1
            return True
        return await self._record_sent(row, wamid, report)

    async def _retry_later(
        self,
        connection: AsyncConnection,
        row: _Claimed,
        error: RetryableGraphError,
        report: DeliveryReport,
    ) -> bool:
        failures = row.attempts + 1
        if failures >= self.policy.max_attempts:
            await self._fail(
                connection, row, error.code, f"gave up after {failures} attempts: {error}"
            )
            report.failed += 1
            return True
        if error.code == GraphErrorCode.PAIR_RATE_LIMIT and error.retry_after is None:
            delay = pair_rate_delay(failures)
        else:
            delay = self.policy.backoff.delay(failures, retry_after=error.retry_after)
        if error.code == GraphErrorCode.THROUGHPUT_LIMIT:
            # The whole number is over its throughput: hold every customer back, not just this.
            await self.limiter.pause(row.phone_number_id, delay)
        logger.info("send of message %s failed (%s); retry in %.2fs", row.id, error, delay)
        count_send("retry", error.code)
        report.retry_at = await self._reschedule(
            connection, row, delay, attempted=True, error=error
        )
        return False

    async def _reschedule(
        self,
        connection: AsyncConnection,
        row: _Claimed,
        delay: float,
        *,
        attempted: bool,
        error: GraphError | None = None,
    ) -> datetime:
        now = self.clock.now()
        retry_at = now + timedelta(seconds=delay)
        values: dict[str, Any] = {"next_attempt_at": retry_at, "updated_at": now}
        if attempted:
            values["attempts"] = WhatsAppMessage.attempts + 1
        if error is not None:
            values.update(error_code=error.code, error_text=str(error)[:_ERROR_TEXT_LIMIT])
        await self._update(connection, row, values)
        return retry_at

    async def _record_sent(self, row: _Claimed, wamid: str, report: DeliveryReport) -> bool:
        """Record Meta's wamid (or park it); True when the next row may follow now."""
        accepted = ParkedSend(
            message_id=row.id,
            owner_id=row.owner_id,
            customer_key=row.customer_key,
            wamid=wamid,
            accepted_at=self.clock.now(),
        )
        if await self.recorder.record(accepted, claimed_until=row.claimed_until):
            count_send("sent")
            report.sent += 1
            return True
        count_send("parked")
        report.parked += 1
        return False

    async def _kept(
        self, connection: AsyncConnection, row: _Claimed, work: Awaitable[Result]
    ) -> Result:
        """Await ``work`` (a rate-limit wait, a Graph call) while renewing the row's claim."""

        async def renew() -> None:
            until = self.clock.now() + timedelta(seconds=self.policy.claim_seconds)
            await renew_held(connection, row, until=until)

        return await keep_claimed(work, renew_every=self.policy.renew_interval, renew=renew)

    async def _fail(
        self, connection: AsyncConnection, row: _Claimed, code: int | None, text: str
    ) -> None:
        logger.warning("message %s to %s failed: %s", row.id, row.customer_key, text)
        count_send("failed", code)
        await self._update(
            connection,
            row,
            {
                "status": "failed",
                "attempts": WhatsAppMessage.attempts + 1,
                "next_attempt_at": None,
                "error_code": code,
                "error_text": text[:_ERROR_TEXT_LIMIT],
                "updated_at": self.clock.now(),
            },
        )
        self._announce_failed(row)

    async def _outside_window(self, row: _Claimed, *, detail: str) -> None:
        now = self.clock.now()
        async with self.db_sessions.begin() as db_session:
            reason = await fall_back_outside_window(
                db_session,
                message_id=row.id,
                last_inbound_at=row.last_inbound_at,
                now=now,
                detail=detail,
            )
            await db_session.execute(
                _settle(
                    row,
                    {
                        "status": "failed",
                        "next_attempt_at": None,
                        "error_code": OUTSIDE_WINDOW_CODE,
                        "error_text": reason[:_ERROR_TEXT_LIMIT],
                        "updated_at": now,
                    },
                )
            )
        logger.info("message %s to %s not sent: %s", row.id, row.customer_key, reason)
        count_send("failed", OUTSIDE_WINDOW_CODE)
        self._announce_failed(row)

    def _announce_failed(self, row: _Claimed) -> None:
        """Show the failed tick in the inbox (best effort, after the row is written)."""
        publisher = publisher_of(self.db_sessions)
        if publisher is not None:
            event = status_event(
                row.owner_id, customer_key=row.customer_key, message_id=row.id, status="failed"
            )
            publisher.publish([event])

    @staticmethod
    async def _update(connection: AsyncConnection, row: _Claimed, values: dict[str, Any]) -> None:
        await connection.execute(_settle(row, values))


def _settle(row: _Claimed, values: dict[str, Any]) -> Update:
    """Change the row, if it is still queued (a status webhook may have settled it)."""
    return (
        update(WhatsAppMessage)
        .where(WhatsAppMessage.id == row.id, WhatsAppMessage.status == "queued")
        .values(**values)
    )
