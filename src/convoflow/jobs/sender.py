"""Outbox delivery: queued outbound rows go to the Graph API, in order, once.

Ordering and mutual exclusion come from a *head-of-line claim* in the database: a sender may
only take the oldest queued row of a customer, and only when it is due; taking it pushes
its ``next_attempt_at`` forward by :attr:`SenderPolicy.claim_seconds` in one UPDATE, so a
second sender (another task, another process) finds nothing to take. That claim is the
per-customer lock: it works across processes with or without Redis, holds no transaction
or row lock during the HTTP call, and expires by itself when its holder dies. A later row
never overtakes an earlier one, not even while the earlier one waits for a retry.

After the call the row is ``sent`` (with the wamid, and any status webhook for it that
arrived first applied in the same transaction), rescheduled with backoff (retryable
errors), or ``failed`` with Meta's code and message (permanent errors, or too many
attempts), and the next row of the customer follows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, func, or_, select, update
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
from convoflow.jobs.ratelimit import RateLimiter, acquire
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.inbox.early_statuses import apply_early_statuses
from convoflow.services.outbox.window import (
    OUTSIDE_WINDOW_CODE,
    fall_back_outside_window,
    window_is_closed,
)
from convoflow.store.models import Contact, WhatsAppMessage

__all__ = ["NEVER_DELIVERED_CHANNELS", "DeliveryReport", "OutboxSender", "SenderPolicy"]

logger = logging.getLogger(__name__)

#: Channels whose rows are delivered by someone else (the terminal chat prints its own).
NEVER_DELIVERED_CHANNELS = ("terminal",)
_ERROR_TEXT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    """How hard the sender tries.

    ``max_attempts`` counts Graph calls per row; ``claim_seconds`` must outlast one call
    (the HTTP timeout) plus ``max_inline_wait`` for the rate limiter; a longer rate-limit
    wait reschedules the row instead of holding the claim.
    """

    max_attempts: int = 8
    claim_seconds: float = 30.0
    max_inline_wait: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(slots=True)
class DeliveryReport:
    """What one :meth:`OutboxSender.deliver_customer` call did."""

    sent: int = 0
    failed: int = 0
    retry_at: datetime | None = None  # the head row waits for a retry until then


@dataclass(frozen=True, slots=True)
class _Claimed:
    """The claimed head row and what is needed to send it."""

    id: int
    phone_number_id: str
    customer_key: str
    type: str
    payload: dict[str, Any]
    attempts: int
    wa_id: str | None
    bsuid: str | None
    last_inbound_at: datetime | None

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
    fails its rows with the reason instead of calling the Graph API.
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
        clock: Clock = SystemClock(),
    ) -> None:
        self.clock = clock
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.tokens = tokens
        self.db_sessions = db_sessions
        self.graph = graph
        self.limiter = limiter
        self.policy = policy or SenderPolicy()

    async def deliver_customer(self, owner_id: str, customer_key: str) -> DeliveryReport:
        """Send the customer's due rows in order until none is left or the head must wait."""
        report = DeliveryReport()
        # One connection for the whole run, in autocommit: every statement here stands alone,
        # so BEGIN/COMMIT round trips and pool checkouts per statement are saved.
        async with self.autocommit.connect() as connection:
            while True:
                row = await self._claim_head(connection, owner_id, customer_key)
                if row is None:
                    return report
                if not await self._deliver(connection, row, report):
                    return report

    async def _claim_head(
        self, connection: AsyncConnection, owner_id: str, customer_key: str
    ) -> _Claimed | None:
        now = self.clock.now()
        message = WhatsAppMessage
        head = (
            select(func.min(message.id))
            .where(
                message.owner_id == owner_id,
                message.customer_key == customer_key,
                message.direction == "out",
                message.status == "queued",
                message.phone_number_id.not_in(NEVER_DELIVERED_CHANNELS),
            )
            .scalar_subquery()
        )
        claimed = (
            await connection.execute(
                update(message)
                .where(
                    message.id == head,
                    or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
                )
                .values(
                    next_attempt_at=now + timedelta(seconds=self.policy.claim_seconds),
                    updated_at=now,
                )
                .returning(
                    message.id,
                    message.phone_number_id,
                    message.type,
                    message.payload,
                    message.attempts,
                )
            )
        ).first()
        if claimed is None:
            return None
        contact = (
            await connection.execute(
                select(Contact.wa_id, Contact.bsuid, Contact.last_inbound_at).where(
                    Contact.owner_id == owner_id, Contact.customer_key == customer_key
                )
            )
        ).first()
        return _Claimed(
            id=claimed.id,
            phone_number_id=claimed.phone_number_id,
            customer_key=customer_key,
            type=claimed.type,
            payload=dict(claimed.payload),
            attempts=claimed.attempts,
            wa_id=contact.wa_id if contact else None,
            bsuid=contact.bsuid if contact else None,
            last_inbound_at=contact.last_inbound_at if contact else None,
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
        wait = await acquire(
            self.limiter, row.phone_number_id, max_wait=self.policy.max_inline_wait
        )
        if wait > 0.0:
            report.retry_at = await self._reschedule(connection, row, wait, attempted=False)
            return False
        try:
            wamid = await self.graph.send_message(
                row.phone_number_id, body=row.payload, access_token=token, **row.address()
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
        await self._mark_sent(row, wamid)
        report.sent += 1
        return True

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

    async def _mark_sent(self, row: _Claimed, wamid: str) -> None:
        now = self.clock.now()
        sent = _settle(
            row,
            {
                "status": "sent",
                "wamid": wamid,
                "sent_at": now,
                "attempts": WhatsAppMessage.attempts + 1,
                "next_attempt_at": None,
                "error_code": None,
                "error_text": None,
                "updated_at": now,
            },
        )
        # Status webhooks for this wamid may have arrived before Meta's answer: apply them
        # in the transaction that records the wamid, so none is left behind.
        async with self.db_sessions.begin() as db_session:
            await db_session.execute(sent)
            await apply_early_statuses(db_session, wamid, now=now)

    async def _fail(
        self, connection: AsyncConnection, row: _Claimed, code: int | None, text: str
    ) -> None:
        logger.warning("message %s to %s failed: %s", row.id, row.customer_key, text)
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
