"""Two ``convoflow serve`` and two ``convoflow worker`` processes on one PostgreSQL and Redis:
webhooks spread over both servers, every customer's replies arrive once and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from convoflow.store.database import create_engine
from convoflow.store.models import WhatsAppMessage
from tests.e2e.processes import (
    PROCESS_REDIS_URL,
    free_port,
    process_env,
    run_command,
    running,
    wait_until_serving,
)
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.webhooks import (
    button_reply,
    change,
    encode,
    eventually,
    list_reply,
    signed_headers,
    text,
    webhook,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = [f"1555090{n:04d}" for n in range(24)]
#: What each customer sends, and the kind of each reply (main_menu, then new_order).
CONVERSATION = [
    lambda c: text(c, "hi"),
    lambda c: button_reply(c, "new_order", "New order"),
    lambda c: list_reply(c, "latte", "Latte"),
    lambda c: text(c, "3"),
    lambda c: button_reply(c, "confirm", "Confirm"),
]
REPLY_KINDS = ["button", "list", "text", "button", "text"]


@pytest.fixture
async def clean_state(pg_url: str, redis_url: str) -> AsyncIterator[None]:
    engine = create_engine(pg_url)
    redis = Redis.from_url(PROCESS_REDIS_URL)
    await truncate_all(engine)
    await redis.flushdb()
    yield
    await truncate_all(engine)
    await redis.flushdb()
    await redis.aclose()
    await engine.dispose()


def kind(request: RecordedRequest) -> str:
    message: dict[str, Any] = request.json
    return str(message["interactive"]["type"]) if message["type"] == "interactive" else "text"


async def pending_rows(pg_url: str) -> int:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(WhatsAppMessage.status.in_(("received", "queued")))
            return int(await connection.scalar(query) or 0)
    finally:
        await engine.dispose()


async def talk(servers: list[httpx.AsyncClient], index: int, customer_key: str) -> None:
    """One customer's conversation, each message to the other server than the last."""
    for step, build in enumerate(CONVERSATION):
        raw = encode(webhook(change([build(customer_key)])))
        server = servers[(index + step) % len(servers)]
        response = await server.post("/webhooks/whatsapp", content=raw, headers=signed_headers(raw))
        assert response.status_code == 200, response.text


async def test_two_servers_and_two_workers_answer_everyone_once_in_order(
    pg_url: str, graph_stub: GraphStub, clean_state: None, tmp_path: Path
) -> None:
    env = process_env(pg_url, graph_stub)
    run_command(["seed"], env)
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running(["serve", "--port", str(port)], env, tmp_path / f"serve-{port}.log")
            )
            for port in ports
        ]
        for number in (1, 2):
            stack.enter_context(running(["worker"], env, tmp_path / f"worker-{number}.log"))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.gather(
            *(wait_until_serving(u, p) for u, p in zip(urls, servers, strict=True))
        )

        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as first:
            async with httpx.AsyncClient(base_url=urls[1], timeout=30) as second:
                await asyncio.gather(
                    *(talk([first, second], i, c) for i, c in enumerate(CUSTOMERS))
                )

        expected = len(CUSTOMERS) * len(CONVERSATION)
        await graph_stub.wait_for_async(expected, timeout=120)

        async def settled() -> bool:
            return await pending_rows(pg_url) == 0

        await eventually(settled, within=60, what="every message to settle")

    assert len(graph_stub.sent) == expected
    for customer_key in CUSTOMERS:
        received = graph_stub.sent_to(f"+{customer_key}")
        assert [kind(reply) for reply in received] == REPLY_KINDS, customer_key
        assert received[-1].text is not None
        assert received[-1].text.startswith("Thank you! Your order of 3 × Latte is confirmed.")
