"""Batches: heads of many customers in one transaction, the inbox writer, and their guarantees.

On PostgreSQL, concurrent webhooks (batched by the inbox writer) and several head
processors running at once still answer every message once, in order per customer; a
message that fails inside a batch fails alone, the rest of the batch is answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.engine.events import Event
from convoflow.errors import InvalidData
from convoflow.runtime import Runtime, decode_stored_message
from convoflow.services.inbox.heads import HeadProcessor
from convoflow.services.inbox.intake import InboundRecord, MessageProcessor, StatusRecord
from convoflow.services.inbox.writer import InboxWriter
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import new_id, utcnow
from tests.services.inbox.test_intake import owner_id_of, pg_runtime, texts

__all__ = ["pg_runtime"]

pytestmark = pytest.mark.postgres


def record(owner_id: str, phone: str, text: str, *, kind: str = "text") -> InboundRecord:
    return InboundRecord(
        owner_id=owner_id,
        phone_number_id="test-number",
        wamid=f"wamid.{new_id()}",
        customer_key=phone,
        wa_id=phone,
        bsuid=None,
        profile_name="",
        type=kind,
        payload={"type": kind, "text": {"body": text}},
        sent_at=utcnow(),
    )


async def drain(runtime: Runtime, processors: int) -> None:
    """Run ``processors`` head processors at once until no message is due."""
    heads = [HeadProcessor(runtime.processor) for _ in range(processors)]

    async def run(head: HeadProcessor) -> None:
        while (await head.process_heads(limit=8)).found:
            continue  # each call waits on the database, so the others run meanwhile

    await asyncio.gather(*(run(head) for head in heads))


async def test_concurrent_webhooks_and_processors_answer_each_message_once_in_order(
    pg_runtime: Runtime,
) -> None:
    owner_id = await owner_id_of(pg_runtime)
    phones = [f"1555300{i:04d}" for i in range(20)]
    writer = InboxWriter(pg_runtime.db_sessions, clock=pg_runtime.clock)
    await asyncio.gather(*(writer.store([record(owner_id, p, "loop")], []) for p in phones))
    await drain(pg_runtime, processors=1)

    async def talk(phone: str) -> None:
        for n in range(5):
            stored = await writer.store([record(owner_id, phone, f"m{n}")], [])
            assert stored.customers == [(owner_id, phone)]

    talking = asyncio.gather(*(talk(phone) for phone in phones))
    await asyncio.gather(talking, drain(pg_runtime, processors=3))
    await drain(pg_runtime, processors=3)
    for phone in phones:
        echoes = [t for t in await texts(pg_runtime, phone, "out") if t.startswith("got ")]
        assert echoes == [f"got m{n}" for n in range(5)], phone
    async with pg_runtime.db_sessions() as db_session:
        statuses = set(
            (
                await db_session.execute(
                    select(WhatsAppMessage.status).where(WhatsAppMessage.direction == "in")
                )
            ).scalars()
        )
    assert statuses == {"processed"}


async def test_a_message_that_fails_in_a_batch_fails_alone(pg_runtime: Runtime) -> None:
    owner_id = await owner_id_of(pg_runtime)
    writer = InboxWriter(pg_runtime.db_sessions, clock=pg_runtime.clock)
    good = [f"1555400{i:04d}" for i in range(5)]
    bad = "15554009999"
    await writer.store([record(owner_id, phone, "loop") for phone in [*good, bad]], [])
    await drain(pg_runtime, processors=1)

    def decode(message_type: str, payload: dict[str, Any]) -> Event | None:
        if payload.get("text", {}).get("body") == "poison":
            raise InvalidData("this message cannot be read")
        return decode_stored_message(message_type, payload)

    runtime = pg_runtime.processor
    processor = MessageProcessor(
        db_sessions=runtime.db_sessions,
        locks=runtime.locks,
        conversations=runtime.conversations,
        decode_event=decode,
        clock=runtime.clock,
    )
    broken = record(owner_id, bad, "poison")
    await writer.store([broken, *(record(owner_id, phone, "hello") for phone in good)], [])
    report = await HeadProcessor(processor).process_heads()
    assert report.fell_back  # the batch was rolled back and done one at a time
    for phone in good:
        assert "got hello" in await texts(pg_runtime, phone, "out")
    async with pg_runtime.db_sessions() as db_session:
        status = await db_session.scalar(
            select(WhatsAppMessage.status).where(WhatsAppMessage.wamid == broken.wamid)
        )
    assert status == "failed"


async def test_a_failed_batch_fails_every_request_in_it(pg_runtime: Runtime) -> None:
    owner_id = await owner_id_of(pg_runtime)
    writer = InboxWriter(pg_runtime.db_sessions, clock=pg_runtime.clock)
    fine = writer.store([record(owner_id, "15555000001", "loop")], [])
    # A status for an outbound row is fine; an owner nobody has breaks the foreign key.
    broken = writer.store(
        [record("no-such-owner", "15555000002", "loop")], [StatusRecord("w", "read")]
    )
    results = await asyncio.gather(fine, broken, return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)
    assert await texts(pg_runtime, "15555000001", "in") == []
