"""Under concurrent traffic on PostgreSQL every message is handled once and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from convoflow.services.inbox.intake import InboundRecord, store_inbound
from convoflow.store import accounts, templates
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import new_id, utcnow
from tests.conftest import make_settings
from tests.support.databases import truncate_all

pytestmark = pytest.mark.postgres

ECHO_LOOP = {
    "template_name": "echo_loop",
    "trigger_keywords": ["loop"],
    "menu_structure": {
        "start": "note",
        "steps": [
            {
                "id": "note",
                "type": "ask",
                "field": "last",
                "input": "string",
                "prompt": "say something",
                "next": "echo",
            },
            {"id": "echo", "type": "message", "text": "got {{last}}", "next": "note"},
        ],
    },
}


@pytest.fixture
async def pg_runtime(pg_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(make_settings(pg_url))
    await truncate_all(runtime.engine)
    await seed(runtime.db_sessions)
    async with runtime.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        await templates.create_template(db_session, owner_id=owner.id, definition=ECHO_LOOP)
    yield runtime
    await truncate_all(runtime.engine)
    await runtime.close()


async def deliver(runtime: Runtime, owner_id: str, phone: str, text: str) -> None:
    """What the webhook does for one message: store it, then process in the background."""
    record = InboundRecord(
        owner_id=owner_id,
        phone_number_id="test-number",
        wamid=f"wamid.{new_id()}",
        customer_key=phone,
        wa_id=phone,
        bsuid=None,
        profile_name="",
        type="text",
        payload={"type": "text", "text": {"body": text}},
        sent_at=utcnow(),
    )
    async with runtime.db_sessions.begin() as db_session:
        await store_inbound(db_session, [record], now=runtime.clock.now())
    await runtime.processor.process_customer(owner_id, phone)


async def owner_id_of(runtime: Runtime) -> str:
    async with runtime.db_sessions() as db_session:
        return (await accounts.get_user(db_session, "admin")).id


async def texts(runtime: Runtime, phone: str, direction: str) -> list[str]:
    async with runtime.db_sessions() as db_session:
        rows = (
            await db_session.execute(
                select(WhatsAppMessage)
                .where(
                    WhatsAppMessage.customer_key == phone, WhatsAppMessage.direction == direction
                )
                .order_by(WhatsAppMessage.id)
            )
        ).scalars()
        return [
            row.payload.get("text", {}).get("body", "") + ("" if row.status != "failed" else "!")
            for row in rows
        ]


async def test_fifty_concurrent_messages_of_one_customer_once_each_in_order(
    pg_runtime: Runtime,
) -> None:
    owner_id = await owner_id_of(pg_runtime)
    phone = "15551110000"
    await deliver(pg_runtime, owner_id, phone, "loop")
    await asyncio.gather(*(deliver(pg_runtime, owner_id, phone, f"m{i}") for i in range(50)))
    inbound = (await texts(pg_runtime, phone, "in"))[1:]
    echoes = [text for text in await texts(pg_runtime, phone, "out") if text.startswith("got ")]
    assert sorted(inbound) == sorted(f"m{i}" for i in range(50))
    assert echoes == [f"got {text}" for text in inbound]
    async with pg_runtime.db_sessions() as db_session:
        statuses = set(
            (
                await db_session.execute(
                    select(WhatsAppMessage.status).where(WhatsAppMessage.direction == "in")
                )
            ).scalars()
        )
    assert statuses == {"processed"}


async def test_five_hundred_customers_at_once_all_reach_the_right_step(
    pg_runtime: Runtime,
) -> None:
    owner_id = await owner_id_of(pg_runtime)
    phones = [f"1555200{i:04d}" for i in range(500)]

    async def converse(phone: str) -> None:
        await deliver(pg_runtime, owner_id, phone, "hi")
        await deliver(pg_runtime, owner_id, phone, "1")

    await asyncio.gather(*(converse(phone) for phone in phones))
    async with pg_runtime.db_sessions() as db_session:
        states = {
            conversation.customer_key: (
                conversation.state.template_name,
                conversation.state.current_step,
            )
            for conversation in await pg_runtime.store.list_live(
                db_session, owner_id=owner_id, now=utcnow()
            )
        }
    assert len(states) == 500
    assert set(states.values()) == {("new_order", "pick_product")}
