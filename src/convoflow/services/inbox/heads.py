"""Processing the oldest pending message of many customers in one transaction.

:class:`HeadProcessor` is the message path's fast lane. One call

1. lists customers whose oldest ``received`` message is due (one query, oldest first) and,
   on PostgreSQL, waits until no insert of theirs is in flight (both on an autocommit
   connection, so no webhook waits for processing; see
   :func:`~convoflow.sessions.locks.wait_for_inbox_inserts`): every row with a smaller id
   than what is read next is then visible, so per-customer order holds across any number
   of servers and processors;
2. takes, without waiting and oldest first, the conversation locks of up to ``limit`` of
   them that are free (PostgreSQL: one round trip of ``pg_try_advisory_xact_lock``; the
   embedded default: in-process locks), so any number of processors share the work and
   never handle one customer twice at once;
3. reads each locked customer's head row, preloads the contacts, live states and workflow
   instances in three queries, runs each head through
   :class:`~convoflow.services.conversations.service.ConversationService`, and writes
   everything with one commit.

A failure of any kind rolls the batch back and hands its customers to the one-at-a-time
path (:meth:`MessageProcessor.process_batch`), which tells a bad message (marked
``failed``) from a transient failure (left for a retry) exactly as before. So the fast lane
changes how many transactions there are, never what happens to a message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from convoflow.services.conversations.outcomes import defer_outbox, write_deferred_outbox
from convoflow.services.conversations.service import Customer
from convoflow.services.inbox.intake import (
    CustomerBatch,
    MessageProcessor,
    processed_inbound,
)
from convoflow.sessions.base import LiveConversation
from convoflow.sessions.locks import (
    InProcessLocks,
    PostgresAdvisoryLocks,
    try_conversation_locks,
    wait_for_inbox_inserts,
)
from convoflow.store.local_channels import LOCAL_CHANNELS
from convoflow.store.models import Contact, WhatsAppMessage, WorkflowInstance
from convoflow.store.transient import transient_failure

__all__ = ["DEFAULT_HEADS", "HeadProcessor", "HeadsReport"]

logger = logging.getLogger(__name__)

#: Customers whose head message one transaction handles at most.
DEFAULT_HEADS = 64
#: Candidates looked at per head wanted: other processors may hold the oldest ones.
CANDIDATES_PER_HEAD = 3
CustomerKey = tuple[str, str]


@dataclass(slots=True)
class HeadsReport:
    """What one :meth:`HeadProcessor.process_heads` call did, per customer.

    ``found`` counts the customers with a due head (locked by others or not): zero means
    there was nothing to do.
    """

    found: int = 0
    batches: dict[CustomerKey, CustomerBatch] = field(default_factory=dict)
    fell_back: bool = False


class HeadProcessor:
    """Handles the head message of many customers at once (see the module docs)."""

    def __init__(self, processor: MessageProcessor) -> None:
        self.processor = processor
        self.clock = processor.clock
        self.db_sessions = processor.db_sessions
        self.locks = processor.locks

    @property
    def batches_locally(self) -> bool:
        """Whether the conversation locks allow the fast lane (PostgreSQL advisory locks or
        in-process locks; the Redis session store goes one customer at a time)."""
        return isinstance(self.locks, PostgresAdvisoryLocks | InProcessLocks)

    async def process_heads(self, limit: int = DEFAULT_HEADS) -> HeadsReport:
        """Handle the oldest due message of up to ``limit`` customers; see the module docs."""
        report = HeadsReport()
        now = self.clock.now()
        candidates = await self._candidates(now, limit * CANDIDATES_PER_HEAD)
        report.found = len(candidates)
        if not candidates:
            return report
        if not self.batches_locally:
            return await self._one_by_one(candidates[:limit], report)
        locked: list[CustomerKey] = []
        async with self.db_sessions() as db_session:
            try:
                locked = await self._try_locks(db_session, candidates, limit)
                if locked:
                    report.batches = await self._handle(db_session, locked)
                else:
                    await db_session.rollback()
            except Exception as exc:
                # A transient failure (the database away) is the outage log's to report,
                # once. Anything else is named here without a traceback: the one-at-a-time
                # pass below meets it again and reports it per message, with its traceback.
                # (An error caused by a lost connection may not look transient itself.)
                failure = transient_failure(exc)
                logger.log(
                    logging.INFO if failure else logging.WARNING,
                    "batch of %d customers rolled back (%s); one at a time",
                    len(locked),
                    failure.reason if failure else repr(exc),
                )
                with contextlib.suppress(Exception):
                    await db_session.rollback()
                report.fell_back = True
            finally:
                if isinstance(self.locks, InProcessLocks):
                    for owner_id, customer_key in locked:
                        self.locks.release(owner_id, customer_key)
        if report.fell_back:
            return await self._one_by_one(locked, report)
        return report

    async def _candidates(self, now: datetime, limit: int) -> list[CustomerKey]:
        """Customers with a due head, oldest first; on PostgreSQL, once no insert of theirs
        is in flight (both on one autocommit connection, before any lock is taken, so a
        processor never holds two connections)."""
        if self.db_sessions.kw["bind"].dialect.name != "postgresql":
            async with self.db_sessions() as db_session:
                return await due_heads(db_session, now=now, limit=limit)
        async with self.processor.autocommit().connect() as connection:
            candidates = await due_heads(connection, now=now, limit=limit)
            await wait_for_inbox_inserts(connection, candidates)
        return candidates

    async def _one_by_one(
        self, customers: Sequence[CustomerKey], report: HeadsReport
    ) -> HeadsReport:
        for owner_id, customer_key in customers:
            report.batches[(owner_id, customer_key)] = await self.processor.process_batch(
                owner_id, customer_key
            )
        return report

    async def _try_locks(
        self, db_session: AsyncSession, customers: list[CustomerKey], limit: int
    ) -> list[CustomerKey]:
        if isinstance(self.locks, PostgresAdvisoryLocks):
            taken = await try_conversation_locks(db_session, customers, limit=limit)
            return [customer for customer in customers if customer in taken]
        assert isinstance(self.locks, InProcessLocks)
        locked: list[CustomerKey] = []
        for customer in customers:
            if len(locked) < limit and await self.locks.try_acquire(*customer):
                locked.append(customer)
        return locked

    async def _handle(
        self, db_session: AsyncSession, customers: list[CustomerKey]
    ) -> dict[CustomerKey, CustomerBatch]:
        heads = await _head_rows(db_session, customers)
        now = self.clock.now()
        contacts = await _contacts(db_session, customers)
        store = self.processor.conversations.store
        instance_ids = await store.preload(db_session, customers, now=now)
        await _preload_instances(db_session, instance_ids)
        if self.processor.rules is not None:
            await self.processor.rules.prepare(db_session, customers, now=now)
        # The turns' outbox rows (and the runs they start) are written together below.
        defer_outbox(db_session)
        batches: dict[CustomerKey, CustomerBatch] = {}
        lives: list[LiveConversation] = []
        for row in heads:
            key = (row.owner_id or "", row.customer_key)
            batch = batches.setdefault(key, CustomerBatch())
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                batch.retry_at = row.next_attempt_at
                continue
            who = Customer.of_contact(
                contacts.get(key),
                owner_id=key[0],
                customer_key=key[1],
                channel_number=row.phone_number_id,
            )
            turn, live = await self.processor.handle_row(db_session, row, who)
            batch.turns.append(turn)
            message = processed_inbound(row, turn)
            if message is not None:
                batch.processed.append(message)
            if live is not None:
                lives.append(live)
        await write_deferred_outbox(db_session)
        await store.commit_many(db_session, lives)
        return batches


async def due_heads(
    db_session: AsyncSession | AsyncConnection, *, now: datetime, limit: int
) -> list[CustomerKey]:
    """Customers whose oldest ``received`` message is due, the oldest head first."""
    message = WhatsAppMessage
    firsts = (
        select(func.min(message.id).label("id"))
        .where(
            message.direction == "in",
            message.status == "received",
            # The terminal chat and the simulator process their own messages at once.
            message.phone_number_id.not_in(LOCAL_CHANNELS),
        )
        .group_by(message.owner_id, message.customer_key)
        .subquery()
    )
    rows = await db_session.execute(
        select(message.owner_id, message.customer_key)
        .join(firsts, firsts.c.id == message.id)
        .where(
            message.owner_id.is_not(None),
            or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
        )
        .order_by(message.id)
        .limit(limit)
    )
    return [(str(owner_id), str(customer_key)) for owner_id, customer_key in rows]


def _of_customers(
    owner_column: Any, key_column: Any, customers: Sequence[CustomerKey]
) -> ColumnElement[bool]:
    """Rows of these customers, and possibly a few more (the caller filters exactly)."""
    owners = sorted({owner for owner, _ in customers})
    keys = sorted({key for _, key in customers})
    return and_(owner_column.in_(owners), key_column.in_(keys))


async def _head_rows(
    db_session: AsyncSession, customers: Sequence[CustomerKey]
) -> list[WhatsAppMessage]:
    """The oldest ``received`` row of each customer, oldest first."""
    message = WhatsAppMessage
    wanted = set(customers)
    firsts = (
        select(func.min(message.id))
        .where(
            _of_customers(message.owner_id, message.customer_key, customers),
            message.direction == "in",
            message.status == "received",
            message.phone_number_id.not_in(LOCAL_CHANNELS),
        )
        .group_by(message.owner_id, message.customer_key)
    )
    rows = (
        await db_session.execute(select(message).where(message.id.in_(firsts)).order_by(message.id))
    ).scalars()
    return [row for row in rows if (row.owner_id, row.customer_key) in wanted]


async def _contacts(
    db_session: AsyncSession, customers: Sequence[CustomerKey]
) -> dict[CustomerKey, Contact]:
    wanted = set(customers)
    rows = (
        await db_session.execute(
            select(Contact).where(_of_customers(Contact.owner_id, Contact.customer_key, customers))
        )
    ).scalars()
    return {
        (row.owner_id, row.customer_key): row
        for row in rows
        if (row.owner_id, row.customer_key) in wanted
    }


#: Holds a batch's preloaded instances: the session's identity map keeps only weak
#: references, so without this they would be gone before the turns look for them.
_PRELOADED_INSTANCES = "convoflow.heads.instances"


async def _preload_instances(db_session: AsyncSession, instance_ids: list[str]) -> None:
    """Load the instances into the session, so the turns find them without a query."""
    if instance_ids:
        rows = await db_session.execute(
            select(WorkflowInstance).where(WorkflowInstance.id.in_(sorted(set(instance_ids))))
        )
        db_session.info[_PRELOADED_INSTANCES] = list(rows.scalars())
