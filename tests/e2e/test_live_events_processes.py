"""Live events cross processes through Redis: a message processed here reaches the event
stream of a ``convoflow serve`` process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.runtime import Runtime
from convoflow.services.access import setup
from convoflow.settings import Settings
from convoflow.store.database import create_engine
from tests.e2e.processes import free_port, process_env, running, wait_until_serving
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub
from tests.support.sse import events_of
from tests.support.webhooks import PHONE_NUMBER_ID, change, text, webhook

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ANA = "4915550600"


@pytest.fixture
async def clean(pg_url: str, redis_url: str) -> AsyncIterator[None]:
    engine = create_engine(pg_url)
    redis = Redis.from_url(redis_url)
    await truncate_all(engine)
    await redis.flushdb()
    yield
    await truncate_all(engine)
    await redis.flushdb()
    await redis.aclose()
    await engine.dispose()


async def test_events_of_another_process_reach_the_stream(
    clean: None, pg_url: str, redis_url: str, graph_stub: GraphStub, tmp_path: Path
) -> None:
    env = process_env(pg_url, graph_stub)
    env["CONVOFLOW_REDIS_URL"] = redis_url
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running(["serve", "--port", str(port)], env, tmp_path / "serve.log") as server:
        await wait_until_serving(base_url, server)
        settings = Settings(
            database_url=pg_url,
            redis_url=redis_url,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_api_base=graph_stub.url,
            whatsapp_access_token=graph_stub.access_token,
        )
        here = Runtime.build(settings)
        try:
            key = await setup.create_key(here.db_sessions, username="admin")
            headers = {"Authorization": f"Bearer {key}"}
            async with events_of(base_url, headers) as stream:
                # This process stores and processes the message; the server only relays.
                parsed = parse_webhook(webhook(change([text(ANA, "help")])))
                received = await receive_webhook(
                    here.db_sessions, here.phone_numbers, parsed, now=here.clock.now()
                )
                [(owner_id, customer_key)] = received.customers
                await here.processor.process_customer(owner_id, customer_key)
                inbound = await stream.until("message", customer=ANA, direction="in")
                outbound = await stream.until("message", customer=ANA, direction="out")
                assert outbound.data["id"] > inbound.data["id"]
                await stream.until("conversation", customer=ANA, event="step", step="topics")
        finally:
            await here.close()
