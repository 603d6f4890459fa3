"""Inbound messages: store once, then process each customer's pending messages in order.

The webhook (or the terminal chat) calls :func:`store_inbound` and commits before it
answers; :meth:`MessageProcessor.process_customer` runs afterwards (in the background) and
again from the sweeper for anything a crash left pending, so nothing acknowledged is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from convoflow.clock import Clock, SystemClock
from convoflow.engine.events import Event
from convoflow.engine.outcome import FlowStatus
from convoflow.services.conversations.customers import load_customer
from convoflow.services.conversations.inbound_rules import InboundRules
from convoflow.services.conversations.service import ConversationService, Customer, TurnResult
from convoflow.services.inbox.read_marks import ProcessedInbound
from convoflow.services.inbox.retry import leave_for_retry
from convoflow.services.live import announce, message_event, status_event
from convoflow.services.outbox.window import OUTSIDE_WINDOW_CODE, fall_back_outside_window
from convoflow.sessions.base import ConversationLocks, LiveConversation
from convoflow.sessions.locks import lock_inbox_inserts, wait_for_inbox_inserts
from convoflow.store.models import OUTBOUND_STATUS_RANK, Contact, WhatsAppMessage
from convoflow.store.transient import DATABASE, TransientFailure, transient_failure
from convoflow.store.types import new_id
from convoflow.store.upsert import insert_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One inbound message, channel-neutral, ready to store."""

    owner_id: str | None  # None: the business number is unknown (stored, not processed)
    phone_number_id: str
    wamid: str
    customer_key: str
    wa_id: str | None
    bsuid: str | None
    profile_name: str
    type: str
    payload: dict[str, Any]
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A delivery status of an outbound message."""

    wamid: str
    status: str
    error_code: int | None = None
    error_text: str | None = None


async def store_inbound(
    db_session: AsyncSession, records: list[InboundRecord], *, now: datetime
) -> list[tuple[str, str]]:
    """Insert each message once (wamid unique) and upsert its contact, set-based: one
    multi-row insert of the messages, one of the contacts, whatever the batch size.

    Returns the (owner_id, customer) pairs that got a new message, in first-seen order;
    a re-delivered message inserts nothing and is not returned.
    """
    if not records:
        return []
    if _is_postgres(db_session):
        # Inserts of a customer hold its inbox lock until the commit, so sequence values
        # commit in the order they were handed out (see wait_for_inbox_inserts).
        await lock_inbox_inserts(
            db_session, [(r.owner_id, r.customer_key) for r in records if r.owner_id]
        )
    connection = await db_session.connection()
    unique: dict[str, InboundRecord] = {}
    for record in records:
        unique.setdefault(record.wamid, record)
    inserted = await connection.execute(
        insert_for(db_session, WhatsAppMessage)
        .on_conflict_do_nothing(index_elements=["wamid"])
        .returning(WhatsAppMessage.id, WhatsAppMessage.wamid, sort_by_parameter_order=True),
        [_message_values(record, now) for record in unique.values()],
    )
    new_ids = {wamid: message_id for message_id, wamid in inserted}
    fresh = [r for r in unique.values() if r.wamid in new_ids and r.owner_id is not None]
    if fresh:
        await _upsert_contacts(db_session, connection, fresh, now)
    customers: dict[tuple[str, str], None] = {}
    for record in fresh:
        assert record.owner_id is not None
        announce(
            db_session,
            message_event(
                record.owner_id,
                customer_key=record.customer_key,
                message_id=new_ids[record.wamid],
                direction="in",
            ),
        )
        customers[(record.owner_id, record.customer_key)] = None
    return list(customers)


def _is_postgres(db_session: AsyncSession) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def _message_values(record: InboundRecord, now: datetime) -> dict[str, Any]:
    return {
        "owner_id": record.owner_id,
        "phone_number_id": record.phone_number_id,
        "customer": record.customer_key,  # the column's name
        "direction": "in",
        "wamid": record.wamid,
        "type": record.type,
        "payload": record.payload,
        "status": "received" if record.owner_id else "ignored",
        "attempts": 0,
        "message_timestamp": record.sent_at,
        "created_at": now,
        "updated_at": now,
    }


async def _upsert_contacts(
    db_session: AsyncSession,
    connection: AsyncConnection,
    records: list[InboundRecord],
    now: datetime,
) -> None:
    """One upsert for every customer of the batch (one row each, in key order)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        assert record.owner_id is not None
        inbound_at = record.sent_at or now
        row = merged.get((record.owner_id, record.customer_key))
        if row is None:
            merged[(record.owner_id, record.customer_key)] = {
                "id": new_id(),
                "owner_id": record.owner_id,
                "customer_key": record.customer_key,
                "wa_id": record.wa_id,
                "bsuid": record.bsuid,
                "name": record.profile_name,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_inbound_at": inbound_at,
                "opted_out": False,
            }
            continue
        row["name"] = record.profile_name or row["name"]
        row["wa_id"] = record.wa_id or row["wa_id"]
        row["bsuid"] = record.bsuid or row["bsuid"]
        row["last_inbound_at"] = max(row["last_inbound_at"], inbound_at)
    statement = insert_for(db_session, Contact)
    new = statement.excluded
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["owner_id", "customer_key"],
            set_={
                "last_seen_at": new.last_seen_at,
                # An empty profile name or a missing id keeps what is known.
                "name": case((new.name != "", new.name), else_=Contact.name),
                "wa_id": func.coalesce(new.wa_id, Contact.wa_id),
                "bsuid": func.coalesce(new.bsuid, Contact.bsuid),
                # A replayed old message must not move the 24-hour window backwards.
                "last_inbound_at": case(
                    (Contact.last_inbound_at.is_(None), new.last_inbound_at),
                    (Contact.last_inbound_at < new.last_inbound_at, new.last_inbound_at),
                    else_=Contact.last_inbound_at,
                ),
            },
        ),
        [merged[key] for key in sorted(merged)],
    )


async def apply_statuses(
    db_session: AsyncSession, statuses: list[StatusRecord], *, now: datetime
) -> int:
    """Move outbound rows forward (sent → delivered → read; failed is final); never back."""
    rank = case(OUTBOUND_STATUS_RANK, value=WhatsAppMessage.status, else_=0)
    moved = 0
    for status in statuses:
        new_rank = OUTBOUND_STATUS_RANK.get(status.status)
        if new_rank is None:
            continue
        values: dict[str, Any] = {"status": status.status, "updated_at": now}
        if status.status == "failed":
            values.update(error_code=status.error_code, error_text=status.error_text)
        result = await db_session.execute(
            update(WhatsAppMessage)
            .where(
                WhatsAppMessage.wamid == status.wamid,
                WhatsAppMessage.direction == "out",
                WhatsAppMessage.status != "failed",
                rank < new_rank,
            )
            .values(**values)
            .returning(WhatsAppMessage.id, WhatsAppMessage.owner_id, WhatsAppMessage.customer_key)
        )
        changed = result.all()
        moved += len(changed)
        announce(
            db_session,
            *(
                status_event(owner, customer_key=customer, message_id=row_id, status=status.status)
                for row_id, owner, customer in changed
                if owner is not None
            ),
        )
        if status.status == "failed" and status.error_code == OUTSIDE_WINDOW_CODE:
            for message_id, owner_id, customer_key in changed:
                await _reengage_after_window_failure(
                    db_session, message_id, owner_id, customer_key, now=now
                )
    return moved


async def _reengage_after_window_failure(
    db_session: AsyncSession,
    message_id: int,
    owner_id: str | None,
    customer_key: str,
    *,
    now: datetime,
) -> None:
    """Meta refused a message as outside the 24-hour window (often only by status webhook):
    queue the template's re-engagement template once, as the sender does when it sees it
    first. The sweeper delivers the new row."""
    last_inbound_at = await db_session.scalar(
        select(Contact.last_inbound_at).where(
            Contact.owner_id == owner_id, Contact.customer_key == customer_key
        )
    )
    reason = await fall_back_outside_window(
        db_session, message_id=message_id, last_inbound_at=last_inbound_at, now=now
    )
    await db_session.execute(
        update(WhatsAppMessage).where(WhatsAppMessage.id == message_id).values(error_text=reason)
    )


EventDecoder = Any  # Callable[[str, dict[str, Any]], Event | None]


@dataclass(slots=True)
class CustomerBatch:
    """What one :meth:`MessageProcessor.process_batch` call did: a turn per handled message,
    and the messages that were processed (not ignored, not failed), oldest first.

    ``interrupted`` is the transient failure that stopped the batch (the message it hit
    stays ``received`` and is retried); ``retry_at`` is when the customer's oldest pending
    message is due again, when it waits for a retry.
    """

    turns: list[TurnResult] = field(default_factory=list)
    processed: list[ProcessedInbound] = field(default_factory=list)
    interrupted: TransientFailure | None = None
    retry_at: datetime | None = None


@dataclass(slots=True)
class _Head:
    """The customer's oldest pending message, as far as one attempt got to know it."""

    row_id: int | None = None
    retry_at: datetime | None = None  # it waits for a retry until then


class MessageProcessor:
    """Processes a customer's pending inbound messages, one transaction per message.

    A message whose processing fails transiently (the database or Redis away, a deadlock, a
    lock timeout: :func:`~convoflow.store.transient.transient_failure`) stays ``received``
    and stops the customer's batch, to be retried after a backoff
    (:mod:`convoflow.services.inbox.retry`); any other failure is the message's own, and it
    is marked ``failed`` so that the customer's later messages go on.
    """

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        locks: ConversationLocks,
        conversations: ConversationService,
        decode_event: EventDecoder,
        clock: Clock = SystemClock(),
        rules: InboundRules | None = None,
    ) -> None:
        self.clock = clock
        self.rules = rules
        self.db_sessions = db_sessions
        self.locks = locks
        self.conversations = conversations
        self.decode_event = decode_event
        self._autocommit: AsyncEngine | None = None

    def autocommit(self) -> AsyncEngine:
        """The database engine in autocommit mode: every statement its own transaction."""
        if self._autocommit is None:
            bind = self.db_sessions.kw["bind"]
            self._autocommit = bind.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit

    async def process_customer(self, owner_id: str, customer_key: str) -> list[TurnResult]:
        """Handle every pending message of this customer in arrival order."""
        return (await self.process_batch(owner_id, customer_key)).turns

    async def process_batch(self, owner_id: str, customer_key: str) -> CustomerBatch:
        """:meth:`process_customer`, also naming the messages processed (for read marks)
        and what stopped the batch early, if anything."""
        batch = CustomerBatch()
        while True:
            head = _Head()
            try:
                processed = await self._process_next_retrying(owner_id, customer_key, head)
            except Exception as exc:
                failure = transient_failure(exc)
                if failure is None:
                    raise
                await self._interrupted(batch, head, failure)
                return batch
            if processed is None:
                batch.retry_at = head.retry_at
                return batch
            turn, more_pending, message = processed
            batch.turns.append(turn)
            if message is not None:
                batch.processed.append(message)
            if not more_pending:
                # A message stored after this look is kicked by whoever stored it.
                return batch

    async def _process_next_retrying(
        self, owner_id: str, customer_key: str, head: _Head
    ) -> tuple[TurnResult, bool, ProcessedInbound | None] | None:
        """:meth:`_process_next`, tried again at once when the database connection failed:
        a pooled connection that died with the last database restart passes on a fresh one.
        """
        try:
            return await self._process_next(owner_id, customer_key, head)
        except Exception as exc:
            failure = transient_failure(exc)
            if failure is None or failure.service != DATABASE:
                raise
        return await self._process_next(owner_id, customer_key, head)

    async def _process_next(
        self, owner_id: str, customer_key: str, head: _Head
    ) -> tuple[TurnResult, bool, ProcessedInbound | None] | None:
        """Handle the oldest pending message; also tell whether another one is waiting.

        None when nothing is pending, or when the oldest waits for a retry (``head.retry_at``).
        """
        store = self.conversations.store
        async with self.db_sessions() as db_session:
            async with self.locks.hold(db_session, owner_id=owner_id, customer_key=customer_key):
                if _is_postgres(db_session):
                    # Exclude in-flight inserts of this customer (see store_inbound); on
                    # this path the shared lock lasts until the commit.
                    await wait_for_inbox_inserts(db_session, [(owner_id, customer_key)])
                pending = await _oldest_pending(db_session, owner_id, customer_key)
                if not pending:
                    await db_session.commit()
                    return None
                row = pending[0]
                head.row_id = row.id
                if row.next_attempt_at is not None and row.next_attempt_at > self.clock.now():
                    head.retry_at = row.next_attempt_at
                    await db_session.commit()
                    return None
                more_pending = len(pending) > 1
                try:
                    turn, live = await self.handle_row(db_session, row)
                    await store.commit(db_session, live)
                except Exception as exc:
                    if transient_failure(exc) is not None:
                        raise  # not the message's fault: it is retried (process_batch)
                    # A bug or bad data in one message must not block the customer's
                    # later messages: record it on the row and move on.
                    logger.exception("processing inbound message %s failed", head.row_id)
                    await db_session.rollback()
                    await _mark_failed(db_session, head.row_id, exc)
                    await db_session.commit()
                    return TurnResult(), more_pending, None
                return turn, more_pending, processed_inbound(row, turn)

    async def _interrupted(
        self, batch: CustomerBatch, head: _Head, failure: TransientFailure
    ) -> None:
        """Leave the head message ``received`` for a retry after a transient failure."""
        batch.interrupted = failure
        if head.row_id is None:  # failed before a message was read: nothing to count
            logger.info("processing interrupted before a message was read (%s)", failure.reason)
            return
        logger.info("inbound message %s left for a retry (%s)", head.row_id, failure.reason)
        try:
            batch.retry_at = await leave_for_retry(
                self.db_sessions, head.row_id, failure, now=self.clock.now()
            )
        except Exception as exc:
            if transient_failure(exc) is None:
                raise
            # Still away: the attempt goes uncounted; the sweeper finds the row later.

    async def handle_row(
        self, db_session: AsyncSession, row: WhatsAppMessage, who: Customer | None = None
    ) -> tuple[TurnResult, LiveConversation | None]:
        """Run one stored message through the conversation (the caller holds the lock and
        commits); ``who`` is the customer when already known."""
        event: Event | None = self.decode_event(row.type, row.payload)
        if event is None:
            row.status = "ignored"
            return TurnResult(), None
        if who is None:
            who = await _customer_of(db_session, row)
        now = self.clock.now()
        verdict = None
        if self.rules is not None:
            verdict = await self.rules.before_turn(db_session, who, event, row.payload, now=now)
        if verdict is not None and verdict.start is not None:
            turn, live = await self.conversations.start(
                db_session, who, verdict.start, verdict.variables, now=now
            )
        elif verdict is not None and verdict.handled:
            turn, live = TurnResult(), None
        else:
            turn, live = await self.conversations.handle(
                db_session, who, event, now=now, received_at=row.created_at
            )
        if verdict is not None:
            turn.queued += verdict.queued
        row.status = "processed"
        return turn, live


async def _oldest_pending(
    db_session: AsyncSession, owner_id: str, customer_key: str
) -> list[WhatsAppMessage]:
    """The customer's two oldest ``received`` messages (the head, and whether more wait)."""
    rows = await db_session.execute(
        select(WhatsAppMessage)
        .where(
            WhatsAppMessage.owner_id == owner_id,
            WhatsAppMessage.customer_key == customer_key,
            WhatsAppMessage.direction == "in",
            WhatsAppMessage.status == "received",
        )
        .order_by(WhatsAppMessage.id)
        .limit(2)
    )
    return list(rows.scalars().all())


async def _mark_failed(db_session: AsyncSession, row_id: int, error: Exception) -> None:
    await db_session.execute(
        update(WhatsAppMessage)
        .where(WhatsAppMessage.id == row_id)
        .values(status="failed", error_text=f"{type(error).__name__}: {error}"[:2000])
    )


def processed_inbound(row: WhatsAppMessage, turn: TurnResult) -> ProcessedInbound | None:
    """The handled row as a read-mark candidate (None when the engine ignored it)."""
    if row.status != "processed" or row.wamid is None:
        return None
    return ProcessedInbound(
        row_id=row.id,
        wamid=row.wamid,
        phone_number_id=row.phone_number_id,
        received_at=row.created_at,
        replied=turn.queued > 0,
        awaits_effect=turn.status == FlowStatus.WAITING_EFFECT,
    )


async def _customer_of(db_session: AsyncSession, row: WhatsAppMessage) -> Customer:
    assert row.owner_id is not None
    return await load_customer(
        db_session,
        owner_id=row.owner_id,
        customer_key=row.customer_key,
        channel_number=row.phone_number_id,
    )
