"""Retrying an inbound message whose processing hit a transient failure.

An acknowledged message must never be dropped because the database blinked. When its
processing fails transiently (see :mod:`convoflow.store.transient`) the row stays
``received``: one more ``attempts``, a ``next_attempt_at`` after a backoff, the reason in
``error_text``. The customer's batch stops there (their later messages must not overtake
it); the sweeper kicks the customer again once the row is due, and a new message of the
customer does too. Only a message that fails :data:`MAX_ATTEMPTS` times in a row this way
is marked ``failed``: by then it is the message, not the service.

While the database is away the attempt cannot be recorded, so an outage does not use up a
message's attempts; the sweeper finds the row, still ``received``, once the database is back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.store.models import WhatsAppMessage
from convoflow.store.transient import TransientFailure

__all__ = [
    "BASE_DELAY_SECONDS",
    "MAX_ATTEMPTS",
    "MAX_DELAY_SECONDS",
    "leave_for_retry",
    "retry_delay",
]

#: Transient failures of one message, in a row, after which it is marked ``failed``.
MAX_ATTEMPTS = 10
BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
_ERROR_TEXT_LIMIT = 2000

logger = logging.getLogger(__name__)


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` transient failures: 1, 2, 4 … 60."""
    return float(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0)))


async def leave_for_retry(
    db_sessions: async_sessionmaker[AsyncSession],
    row_id: int,
    failure: TransientFailure,
    *,
    now: datetime,
) -> datetime | None:
    """Count a transient failure on the still-``received`` row ``row_id``.

    Returns when the row is due again, or None when it was not (it was handled meanwhile,
    or it used up :data:`MAX_ATTEMPTS` and is now ``failed``). Raises what the database
    raises (it may still be away).
    """
    row = WhatsAppMessage
    async with db_sessions.begin() as db_session:
        attempts = await db_session.scalar(
            select(row.attempts).where(row.id == row_id, row.status == "received")
        )
        if attempts is None:
            return None
        attempts += 1
        gave_up = attempts >= MAX_ATTEMPTS
        retry_at = None if gave_up else now + timedelta(seconds=retry_delay(attempts))
        text = failure.reason
        if gave_up:
            text = f"gave up after {attempts} transient failures, the last: {text}"
        await db_session.execute(
            update(row)
            .where(row.id == row_id, row.status == "received")
            .values(
                attempts=attempts,
                next_attempt_at=retry_at,
                status="failed" if gave_up else "received",
                error_text=text[:_ERROR_TEXT_LIMIT],
                updated_at=now,
            )
        )
    if gave_up:
        logger.warning("inbound message %s failed: %s", row_id, text)
    return retry_at
