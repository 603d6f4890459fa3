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

Many customers go at once (:meth:`OutboxSender.deliver_customers`): one statement claims
the head row of each of them with its contact, rate-limit slots are reserved per number for
the whole batch, the Graph calls run concurrently, and the accepted sends are recorded in
one transaction. Each customer still has one row in flight at most, so the order per
customer is that of one customer at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, update
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
    ClaimedRow,
    Customer,
    claim_heads,
    give_back,
    keep_claimed,
    renew_claims,
)
from convoflow.jobs.parked_sends import MemoryParking, ParkedSend, ParkedSends
from convoflow.jobs.ratelimit import RateLimiter, acquire, take_slots
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
from convoflow.store.models import WhatsAppMessage

__all__ = ["NEVER_DELIVERED_CHANNELS", "DeliveryReport", "OutboxSender", "SenderPolicy"]

logger = logging.getLogger(__name__)

_ERROR_TEXT_LIMIT = 1000


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
class _Deferred:
    """The rate limiter asked for a longer wait than the sender holds a claim for."""

    wait: float


#: What the Graph phase gave for a row: Meta's wamid, a deferral, or the send's error.
_Outcome = str | _Deferred | GraphError | ValueError


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
        customer = (owner_id, customer_key)
        return (await self.deliver_customers([customer]))[customer]

    async def deliver_customers(
        self, customers: Sequence[Customer]
    ) -> dict[Customer, DeliveryReport]:
        """:meth:`deliver_customer` for many customers at once, one row of each in flight.

        Each round claims the head row of every customer still going, sends them together
        and records them together; a customer goes on to its next row once its row is
        settled, and stops when nothing of it is due or its head must wait.
        """
        reports = {customer: DeliveryReport() for customer in customers}
        going = list(reports)
        while going:
            ready = await self.recorder.settle_parked(going)
            if not ready:
                return reports
            rows: list[ClaimedRow] = []
            try:
                # One autocommit connection per round: every statement stands alone (no
                # BEGIN/COMMIT round trips), and a connection a restart cut is not reused.
                async with self.autocommit.connect() as connection:
                    rows = await self._claim(connection, ready)
                    if not rows:
                        return reports
                    going = await self._deliver(connection, rows, reports)
            except Exception:
                # Before the Graph call nothing went out, so a row may be taken again now
                # instead of when the claim lapses; after it, Meta may have the message, so
                # the claim is left to lapse (a short wait rather than a duplicate). A
                # cancelled run (the process stops) leaves them to lapse too.
                unsent = [row for row in rows if not row.posted]
                await give_back(self.autocommit, unsent, now=self.clock.now())
                raise
        return reports

    async def _claim(
        self, connection: AsyncConnection, customers: Sequence[Customer]
    ) -> list[ClaimedRow]:
        now = self.clock.now()
        until = now + timedelta(seconds=self.policy.claim_seconds)
        rows = await claim_heads(connection, customers, now=now, until=until)
        if rows:
            observe_batch("sender", len(rows))
        return rows

    async def _deliver(
        self,
        connection: AsyncConnection,
        rows: list[ClaimedRow],
        reports: dict[Customer, DeliveryReport],
    ) -> list[Customer]:
        """Send the claimed rows (one per customer); the customers whose next row may
        follow now."""
        going: list[Customer] = []
        sendable: list[ClaimedRow] = []
        tokens: dict[int, str | None] = {}
        for row in rows:
            cleared, tokens[row.id] = await self._cleared(connection, row)
            if not cleared:  # failed with its reason, no Graph call
                reports[row.customer].failed += 1
                going.append(row.customer)
                continue
            sendable.append(row)
        granted = await self._reserve(sendable)
        posts = {
            asyncio.create_task(self._post(row, tokens[row.id], row.id in granted)): row
            for row in sendable
        }
        try:
            going += await self._settle_as_answered(connection, posts, granted, reports)
        finally:  # cancelled (the process stops): no send is left running unwatched
            for post in posts:
                post.cancel()
            await asyncio.gather(*posts, return_exceptions=True)
        return going

    async def _settle_as_answered(
        self,
        connection: AsyncConnection,
        posts: dict[asyncio.Task[_Outcome], ClaimedRow],
        granted: set[int],
        reports: dict[Customer, DeliveryReport],
    ) -> list[Customer]:
        """Settle the rows as their sends end: first every row that had its rate-limit slot
        (one wave, recorded together), then the ones that waited for a slot, as they end.
        A row waiting for the limiter never holds back the record of another's send."""
        going: list[Customer] = []
        pending = set(posts)
        first = {post for post in pending if posts[post].id in granted}

        async def renew() -> None:
            until = self.clock.now() + timedelta(seconds=self.policy.claim_seconds)
            await renew_claims(connection, [posts[post] for post in pending], until=until)

        while pending:
            wave = first or pending
            await keep_claimed(
                asyncio.wait(
                    wave, return_when=asyncio.ALL_COMPLETED if first else asyncio.FIRST_COMPLETED
                ),
                renew_every=self.policy.renew_interval,
                renew=renew,
            )
            first = set()
            done = sorted(
                (post for post in pending if post.done()), key=lambda post: posts[post].id
            )
            pending.difference_update(done)
            going += await self._settle(
                connection, [(posts[post], post.result()) for post in done], reports
            )
        return going

    async def _settle(
        self,
        connection: AsyncConnection,
        answered: list[tuple[ClaimedRow, _Outcome]],
        reports: dict[Customer, DeliveryReport],
    ) -> list[Customer]:
        """Record what Meta accepted (together), then the rest; the customers that go on."""
        going: list[Customer] = []
        accepted = [(row, wamid) for row, wamid in answered if isinstance(wamid, str)]
        for (row, _), recorded in zip(accepted, await self._record_sent(accepted), strict=True):
            report = reports[row.customer]
            if recorded:
                count_send("sent")
                report.sent += 1
                going.append(row.customer)
            else:
                count_send("parked")
                report.parked += 1
        for row, outcome in answered:
            if isinstance(outcome, str):
                continue
            if await self._settle_unsent(connection, row, outcome, reports[row.customer]):
                going.append(row.customer)
        return going

    async def _cleared(
        self, connection: AsyncConnection, row: ClaimedRow
    ) -> tuple[bool, str | None]:
        """Whether the row may go out, and its number's token; a row that may not is
        failed with the reason here."""
        try:
            token = (
                None if self.tokens is None else await self.tokens.token_for(row.phone_number_id)
            )
        except AccessTokenUnavailable as missing:  # a call that cannot succeed: say why
            await self._fail(connection, row, None, f"not sent: {missing}")
            return False, None
        if window_is_closed(row.type, row.last_inbound_at, self.clock.now()):
            await self._outside_window(row, detail="")
            return False, None
        if row.campaign_recipient_id is not None:
            # Paused, cancelled or opted out since it was queued: it must not go out.
            refusal = await send_refusal(connection, row.campaign_recipient_id)
            if refusal is not None:
                await self._fail(connection, row, None, refusal)
                return False, None
        return True, token

    async def _reserve(self, rows: Sequence[ClaimedRow]) -> set[int]:
        """Take rate-limit slots for the batch, per number, replies before campaign rows;
        the ids of the rows that got one (the others wait for theirs one by one)."""
        wanting: dict[tuple[str, bool], list[ClaimedRow]] = {}
        for row in sorted(rows, key=lambda row: (row.priority, row.id)):
            wanting.setdefault((row.phone_number_id, row.priority > 0), []).append(row)
        granted: set[int] = set()
        for (number, spare), group in wanting.items():
            taken = await take_slots(self.limiter, number, len(group), spare=spare)
            granted.update(row.id for row in group[:taken])
        return granted

    async def _post(self, row: ClaimedRow, token: str | None, granted: bool) -> _Outcome:
        """Wait for the row's rate-limit slot (unless granted) and send it."""
        if not granted:
            wait = await acquire(
                self.limiter,
                row.phone_number_id,
                max_wait=self.policy.max_inline_wait,
                spare=row.priority > 0,
            )
            if wait > 0.0:
                return _Deferred(wait)
        row.posted = True
        try:
            return await self.graph.send_message(
                row.phone_number_id, body=row.payload, access_token=token, **row.address()
            )
        except (GraphError, ValueError) as error:
            return error

    async def _settle_unsent(
        self,
        connection: AsyncConnection,
        row: ClaimedRow,
        outcome: _Outcome,
        report: DeliveryReport,
    ) -> bool:
        """Settle a row Meta did not take; True when the customer's next row may follow."""
        if isinstance(outcome, _Deferred):
            count_send("deferred")
            report.retry_at = await self._reschedule(connection, row, outcome.wait, attempted=False)
            return False
        if isinstance(outcome, RetryableGraphError):
            return await self._retry_later(connection, row, outcome, report)
        if isinstance(outcome, PermanentGraphError) and outcome.code == OUTSIDE_WINDOW_CODE:
            await self._outside_window(row, detail=str(outcome))
        elif isinstance(outcome, ValueError):  # a body the client refuses: a bug, never retried
            await self._fail(connection, row, None, f"not sendable: {outcome}")
        else:
            code = outcome.code if isinstance(outcome, GraphError) else None
            await self._fail(connection, row, code, str(outcome))
        report.failed += 1
        return True

    async def _retry_later(
        self,
        connection: AsyncConnection,
        row: ClaimedRow,
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
        row: ClaimedRow,
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

    async def _record_sent(self, accepted: list[tuple[ClaimedRow, str]]) -> list[bool]:
        """Record Meta's wamids (or park them); for each, True when recorded."""
        now = self.clock.now()
        sends = [
            ParkedSend(
                message_id=row.id,
                owner_id=row.owner_id,
                customer_key=row.customer_key,
                wamid=wamid,
                accepted_at=now,
            )
            for row, wamid in accepted
        ]
        return await self.recorder.record_many(
            sends, claimed_until=[row.claimed_until for row, _ in accepted]
        )

    async def _fail(
        self, connection: AsyncConnection, row: ClaimedRow, code: int | None, text: str
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

    async def _outside_window(self, row: ClaimedRow, *, detail: str) -> None:
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

    def _announce_failed(self, row: ClaimedRow) -> None:
        """Show the failed tick in the inbox (best effort, after the row is written)."""
        publisher = publisher_of(self.db_sessions)
        if publisher is not None:
            event = status_event(
                row.owner_id, customer_key=row.customer_key, message_id=row.id, status="failed"
            )
            publisher.publish([event])

    @staticmethod
    async def _update(connection: AsyncConnection, row: ClaimedRow, values: dict[str, Any]) -> None:
        await connection.execute(_settle(row, values))


def _settle(row: ClaimedRow, values: dict[str, Any]) -> Update:
    """Change the row, if it is still queued (a status webhook may have settled it)."""
    return (
        update(WhatsAppMessage)
        .where(WhatsAppMessage.id == row.id, WhatsAppMessage.status == "queued")
        .values(**values)
    )
