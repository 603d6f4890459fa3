"""A transient database failure never fails a message: it stays ``received`` and is retried.

Real failures on PostgreSQL: the connection cut mid-processing (a TCP proxy stopped), and a
lock timeout behind a row lock another transaction holds. A message that is bad in itself
still fails at once, and one that fails transiently every time fails after the last attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.clock import FakeClock
from convoflow.jobs.sweeper import Sweeper
from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from convoflow.services.conversations.service import ConversationService, Customer, TurnResult
from convoflow.services.inbox.intake import InboundRecord, MessageProcessor, store_inbound
from convoflow.services.inbox.retry import MAX_ATTEMPTS, retry_delay
from convoflow.sessions.base import LiveConversation
from convoflow.store import accounts
from convoflow.store.models import WhatsAppMessage
from convoflow.store.transient import DATABASE
from convoflow.store.types import new_id
from tests.conftest import make_settings
from tests.jobs.test_sweeper import RecordingDispatcher
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, truncate_all
from tests.support.tcp_proxy import TcpProxy, proxy_to

pytestmark = pytest.mark.postgres

CUSTOMER = "15557770001"


class CuttingConversations(ConversationService):
    """The real service, but the database connection is cut as the next message's
    handling begins (once), as a PostgreSQL restart would."""

    def __init__(self, real: ConversationService, proxy: TcpProxy) -> None:
        super().__init__(
            catalog=real.catalog, store=real.store, default_ttl_seconds=real.default_ttl
        )
        self.proxy = proxy
        self.armed = False

    async def handle(
        self, db_session: AsyncSession, customer: Customer, event: Any, **options: Any
    ) -> tuple[TurnResult, LiveConversation | None]:
        if self.armed:
            self.armed = False
            await self.proxy.stop()
        return await super().handle(db_session, customer, event, **options)


async def _runtime(url: str) -> Runtime:
    runtime = Runtime.build(make_settings(url), clock=FakeClock(datetime.now(UTC)))
    await truncate_all(runtime.engine)
    await seed(runtime.db_sessions)
    return runtime


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[TcpProxy]:
    async with proxy_to(POSTGRES_HOST, POSTGRES_PORT) as started:
        yield started


@pytest.fixture
async def runtime_behind_proxy(pg_url: str, proxy: TcpProxy) -> AsyncIterator[Runtime]:
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    runtime = await _runtime(url)
    yield runtime
    if not proxy.listening:
        await proxy.start()
    await truncate_all(runtime.engine)
    await runtime.close()


@pytest.fixture
async def pg_runtime(pg_url: str) -> AsyncIterator[Runtime]:
    runtime = await _runtime(pg_url)
    yield runtime
    await truncate_all(runtime.engine)
    await runtime.close()


@pytest.fixture
async def runtime_with_lock_timeout(pg_url: str) -> AsyncIterator[Runtime]:
    """A runtime whose connections give up waiting for a row lock after 100 ms."""
    runtime = await _runtime(pg_url)

    def short_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        # On the raw asyncpg connection, outside any transaction, so that it stays set.
        dbapi_connection.run_async(lambda raw: raw.execute("SET lock_timeout = '100ms'"))

    event.listen(runtime.engine.sync_engine, "connect", short_lock_timeout)
    await runtime.engine.dispose()  # connections opened so far have no timeout
    yield runtime
    await truncate_all(runtime.engine)
    await runtime.close()


async def store(runtime: Runtime, words: str, *, payload: Any = None) -> int:
    """Store one inbound message of the customer, as the webhook does; its row id."""
    async with runtime.db_sessions() as db_session:
        owner_id = (await accounts.get_user(db_session, "admin")).id
    record = InboundRecord(
        owner_id=owner_id,
        phone_number_id="test-number",
        wamid=f"wamid.{new_id()}",
        customer_key=CUSTOMER,
        wa_id=CUSTOMER,
        bsuid=None,
        profile_name="Ana",
        type="text",
        payload=payload if payload is not None else {"type": "text", "text": {"body": words}},
        sent_at=runtime.clock.now(),
    )
    async with runtime.db_sessions.begin() as db_session:
        await store_inbound(db_session, [record], now=runtime.clock.now())
        return int(
            await db_session.scalar(
                select(WhatsAppMessage.id).where(WhatsAppMessage.wamid == record.wamid)
            )
            or 0
        )


async def inbound_row(runtime: Runtime, row_id: int) -> WhatsAppMessage:
    async with runtime.db_sessions() as db_session:
        return (
            await db_session.execute(select(WhatsAppMessage).where(WhatsAppMessage.id == row_id))
        ).scalar_one()


async def replies(runtime: Runtime) -> int:
    async with runtime.db_sessions() as db_session:
        rows = await db_session.scalars(
            select(WhatsAppMessage.id).where(WhatsAppMessage.direction == "out")
        )
        return len(rows.all())


async def owner(runtime: Runtime) -> str:
    async with runtime.db_sessions() as db_session:
        return (await accounts.get_user(db_session, "admin")).id


async def test_a_connection_cut_mid_processing_leaves_the_message_for_when_the_database_is_back(
    runtime_behind_proxy: Runtime, proxy: TcpProxy
) -> None:
    runtime = runtime_behind_proxy
    cutting = CuttingConversations(runtime.conversations, proxy)
    processor = MessageProcessor(
        db_sessions=runtime.db_sessions,
        locks=runtime.locks,
        conversations=cutting,
        decode_event=runtime.processor.decode_event,
        clock=runtime.clock,
    )
    owner_id = await owner(runtime)
    row_id = await store(runtime, "hi")
    runtime.clock.advance(10)  # type: ignore[attr-defined]

    cutting.armed = True
    batch = await processor.process_batch(owner_id, CUSTOMER)

    assert batch.turns == [] and batch.interrupted is not None
    assert batch.interrupted.service == DATABASE
    await proxy.start()
    row = await inbound_row(runtime, row_id)
    assert (row.status, row.attempts) == ("received", 0)  # an outage uses up no attempt
    assert await replies(runtime) == 0

    dispatcher = RecordingDispatcher()
    sweeper = Sweeper(db_sessions=runtime.db_sessions, dispatcher=dispatcher, clock=runtime.clock)
    await sweeper.sweep_once()
    assert dispatcher.kicks == [("process", owner_id, CUSTOMER)]

    batch = await processor.process_batch(owner_id, CUSTOMER)

    assert batch.interrupted is None and len(batch.processed) == 1
    assert (await inbound_row(runtime, row_id)).status == "processed"
    assert await replies(runtime) == 1


async def test_the_first_query_after_a_database_restart_does_not_fail_the_message(
    runtime_behind_proxy: Runtime, proxy: TcpProxy
) -> None:
    runtime = runtime_behind_proxy
    owner_id = await owner(runtime)
    row_id = await store(runtime, "hi")  # leaves a connection in the pool
    await proxy.stop()  # the restart kills it, unnoticed
    await proxy.start()

    batch = await runtime.processor.process_batch(owner_id, CUSTOMER)

    assert batch.interrupted is None
    row = await inbound_row(runtime, row_id)
    assert (row.status, row.attempts) == ("processed", 0)


class RowLock:
    """Another transaction holding the customer's conversation_state row (FOR UPDATE)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.connection: asyncpg.Connection | None = None

    async def take(self) -> None:
        self.connection = await asyncpg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database=self.database
        )
        await self.connection.execute("BEGIN")
        locked = await self.connection.fetch(
            "SELECT id FROM conversation_state WHERE phone_number = $1 FOR UPDATE", CUSTOMER
        )
        assert len(locked) == 1

    async def release(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


@pytest.fixture
async def row_lock(pg_url: str) -> AsyncIterator[RowLock]:
    lock = RowLock(make_url(pg_url).database or "")
    yield lock
    await lock.release()


async def test_a_lock_timeout_is_retried_after_a_backoff_and_then_answered(
    runtime_with_lock_timeout: Runtime, row_lock: RowLock
) -> None:
    runtime = runtime_with_lock_timeout
    clock: FakeClock = runtime.clock  # type: ignore[assignment]
    owner_id = await owner(runtime)
    await store(runtime, "hi")
    await runtime.processor.process_customer(owner_id, CUSTOMER)  # the conversation's row
    answered = await replies(runtime)
    await row_lock.take()
    row_id = await store(runtime, "1")

    batch = await runtime.processor.process_batch(owner_id, CUSTOMER)

    assert batch.interrupted is not None and batch.interrupted.service is None  # contention
    row = await inbound_row(runtime, row_id)
    assert (row.status, row.attempts) == ("received", 1)
    assert batch.retry_at == row.next_attempt_at == clock.now() + timedelta(seconds=1)
    assert "lock" in (row.error_text or "")

    await row_lock.release()
    waiting = await runtime.processor.process_batch(owner_id, CUSTOMER)
    assert waiting.turns == [] and waiting.retry_at == row.next_attempt_at  # still backing off
    dispatcher = RecordingDispatcher()
    sweeper = Sweeper(db_sessions=runtime.db_sessions, dispatcher=dispatcher, clock=clock)
    await sweeper.sweep_once()
    assert dispatcher.kicks == []

    clock.advance(1)
    await sweeper.sweep_once()
    assert dispatcher.kicks == [("process", owner_id, CUSTOMER)]
    batch = await runtime.processor.process_batch(owner_id, CUSTOMER)

    assert [message.row_id for message in batch.processed] == [row_id]
    assert (await inbound_row(runtime, row_id)).status == "processed"
    assert await replies(runtime) > answered


async def test_a_message_failing_transiently_every_time_fails_after_the_last_attempt(
    runtime_with_lock_timeout: Runtime, row_lock: RowLock
) -> None:
    runtime = runtime_with_lock_timeout
    clock: FakeClock = runtime.clock  # type: ignore[assignment]
    owner_id = await owner(runtime)
    await store(runtime, "hi")
    await runtime.processor.process_customer(owner_id, CUSTOMER)
    await row_lock.take()
    stuck = await store(runtime, "1")
    after = await store(runtime, "2")

    for attempt in range(1, MAX_ATTEMPTS):
        batch = await runtime.processor.process_batch(owner_id, CUSTOMER)
        assert batch.interrupted is not None and batch.turns == []
        assert (await inbound_row(runtime, stuck)).attempts == attempt
        assert (await inbound_row(runtime, after)).status == "received"  # order is kept
        clock.advance(retry_delay(attempt))
    await runtime.processor.process_batch(owner_id, CUSTOMER)

    row = await inbound_row(runtime, stuck)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert (row.error_text or "").startswith(f"gave up after {MAX_ATTEMPTS} transient failures")
    await row_lock.release()
    await runtime.processor.process_customer(owner_id, CUSTOMER)
    assert (await inbound_row(runtime, after)).status == "processed"


async def test_a_message_that_is_bad_in_itself_fails_at_once_and_the_next_one_goes_on(
    pg_runtime: Runtime,
) -> None:
    runtime = pg_runtime
    owner_id = await owner(runtime)
    bad = await store(runtime, "hi")
    async with (
        runtime.db_sessions.begin() as db_session
    ):  # a stored payload the decoder cannot read
        await db_session.execute(
            update(WhatsAppMessage)
            .where(WhatsAppMessage.id == bad)
            .values(payload=text("'null'::jsonb"))
        )
    good = await store(runtime, "hi")

    batch = await runtime.processor.process_batch(owner_id, CUSTOMER)

    assert batch.interrupted is None
    failed = await inbound_row(runtime, bad)
    assert (failed.status, failed.attempts) == ("failed", 0)
    assert (failed.error_text or "").startswith("AttributeError")
    assert (await inbound_row(runtime, good)).status == "processed"
