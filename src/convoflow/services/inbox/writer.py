"""Writing webhooks to the inbox in batches: one transaction for many requests.

Each webhook request hands its records to the process's :class:`InboxWriter` and waits.
One writer task takes everything that arrived while the previous batch was being written
and stores it with one multi-row insert of the messages, one of the contacts, the statuses,
and **one commit** (:func:`~convoflow.services.inbox.intake.store_inbound`), then answers
every waiting request. Nothing is acknowledged before that commit; a batch that fails
fails every request in it (the route answers 503 and Meta delivers them again; a commit
that did happen makes the redelivery an ignored duplicate).

Under load the batches grow by themselves (more requests arrive during a write), so the
cost per message falls as the rate rises, and at low load a request waits for nothing but
its own write. One ``notify`` per stored batch wakes the processors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.services.inbox.early_statuses import apply_webhook_statuses
from convoflow.services.inbox.intake import InboundRecord, StatusRecord, store_inbound

__all__ = ["MAX_BATCH_REQUESTS", "InboxWriter", "StoredBatch"]

logger = logging.getLogger(__name__)

#: Requests written in one transaction at most (a webhook holds up to ~1,000 updates).
MAX_BATCH_REQUESTS = 256
Notify = Callable[[list[tuple[str, str]]], Awaitable[None]]


@dataclass(slots=True)
class StoredBatch:
    """What one request's share of a batch stored."""

    customers: list[tuple[str, str]] = field(default_factory=list)
    statuses: int = 0


@dataclass(slots=True)
class _Request:
    records: list[InboundRecord]
    statuses: list[StatusRecord]
    answer: asyncio.Future[StoredBatch]


class InboxWriter:
    """Stores the records of many requests per transaction (see the module docs).

    ``notify`` is called once per committed batch with the customers that got new
    messages (it must not raise: a lost wake-up only delays processing to the next poll).
    """

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        *,
        notify: Notify | None = None,
        clock: Clock = SystemClock(),
        max_requests: int = MAX_BATCH_REQUESTS,
    ) -> None:
        self.db_sessions = db_sessions
        self.notify = notify
        self.clock = clock
        self.max_requests = max_requests
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(
        self, records: list[InboundRecord], statuses: list[StatusRecord]
    ) -> StoredBatch:
        """Store these records and statuses durably; returns once they are committed.

        Raises what the batch's transaction raised (nothing of it was stored then).
        """
        answer: asyncio.Future[StoredBatch] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(records, statuses, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="convoflow-inbox-writer")
        # The write goes on if this request is cancelled (its client left): it is durable.
        return await asyncio.shield(answer)

    async def _write_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_requests], self._queue[self.max_requests :]
            try:
                customers = await self._write(batch)
            except Exception as exc:
                for request in batch:
                    if not request.answer.done():
                        request.answer.set_exception(exc)
                continue
            if customers and self.notify is not None:
                await self.notify(customers)

    async def _write(self, batch: list[_Request]) -> list[tuple[str, str]]:
        now = self.clock.now()
        records = [record for request in batch for record in request.records]
        statuses = [status for request in batch for status in request.statuses]
        async with self.db_sessions.begin() as db_session:
            customers = await store_inbound(db_session, records, now=now)
            counted = await apply_webhook_statuses(db_session, statuses, now=now)
        new = set(customers)
        for request in batch:
            mine = list(
                dict.fromkeys(
                    (r.owner_id, r.customer_key)
                    for r in request.records
                    if r.owner_id is not None and (r.owner_id, r.customer_key) in new
                )
            )
            share = StoredBatch(customers=mine, statuses=counted if request is batch[0] else 0)
            if not request.answer.done():
                request.answer.set_result(share)
        return customers
