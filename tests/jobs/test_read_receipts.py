"""Read marks against the stand-in Graph API: one per batch, typing only when the reply is late."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.settings import Settings
from convoflow.store import accounts, templates
from convoflow.store.models import PhoneNumber, WhatsAppMessage
from tests.jobs.helpers import owner_id, started_runtime
from tests.jobs.outside_api import OutsideApi
from tests.jobs.test_effects import lookup_template
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, change, message, text, webhook

CUSTOMER = "15550006666"


async def store(
    runtime: Runtime, *messages: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID
) -> None:
    """One webhook carrying ``messages`` to a business number, stored but not processed yet."""
    parsed = parse_webhook(webhook(change(list(messages), phone_number_id=phone_number_id)))
    await receive_webhook(
        runtime.db_sessions,
        PhoneNumberDirectory(runtime.db_sessions),
        parsed,
        now=runtime.clock.now(),
    )


async def arrival_of(runtime: Runtime, wamid: str) -> datetime:
    async with runtime.db_sessions() as db_session:
        arrived = await db_session.scalar(
            select(WhatsAppMessage.created_at).where(WhatsAppMessage.wamid == wamid)
        )
    assert arrived is not None
    return arrived


async def process_finishing(
    runtime: Runtime, newest_wamid: str, *, seconds: float, owner: str = "admin"
) -> None:
    """Run the customer's job as if processing ended ``seconds`` after the newest arrived,
    and wait for the send lane to deliver the replies (and the read marks after them)."""
    finished_at = await arrival_of(runtime, newest_wamid) + timedelta(seconds=seconds)
    runtime.jobs.read_receipts.clock = FakeClock(finished_at)
    await runtime.jobs.handle_customer(await owner_id(runtime, owner), CUSTOMER)
    await runtime.jobs.sending.wait_idle()


def reaction(customer_key: str) -> dict[str, Any]:
    return message(customer_key, "reaction", {"message_id": "wamid.EARLIER", "emoji": "👍"})


def read_requests(graph_stub: GraphStub) -> list[Any]:
    """Bodies of every mark-as-read request, accepted or not."""
    return [
        request.json
        for request in graph_stub.requests
        if isinstance(request.json, dict) and request.json.get("status") == "read"
    ]


async def test_two_messages_in_one_batch_get_one_read_mark_for_the_newest(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    first, second = text(CUSTOMER, "hi"), text(CUSTOMER, "hi")
    await store(app_runtime, first, second)

    await process_finishing(app_runtime, second["id"], seconds=0.2)

    [read] = graph_stub.reads
    assert read.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert read.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": second["id"],
    }
    assert graph_stub.sent  # the replies went too, and before the plain read mark
    assert graph_stub.requests[-1] == read


async def test_a_late_reply_is_announced_by_typing_before_it_goes(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    hello = text(CUSTOMER, "hi")
    await store(app_runtime, hello)

    await process_finishing(app_runtime, hello["id"], seconds=3)

    [read] = graph_stub.reads
    assert read.json["message_id"] == hello["id"]
    assert read.json["typing_indicator"] == {"type": "text"}
    assert graph_stub.requests[0] == read  # typing first: the reply ends it
    assert len(graph_stub.sent) == 1


async def test_a_turn_waiting_for_an_http_call_shows_typing_at_once(
    app_runtime: Runtime, graph_stub: GraphStub, outside_api: OutsideApi
) -> None:
    async with app_runtime.db_sessions.begin() as db_session:
        await templates.create_template(
            db_session,
            owner_id=await owner_id(app_runtime),
            definition=lookup_template(outside_api.url),
        )
    app_runtime.catalog.invalidate()
    check = text(CUSTOMER, "check")
    await store(app_runtime, check)

    await process_finishing(app_runtime, check["id"], seconds=0.1)

    [read] = graph_stub.reads
    assert read.json["typing_indicator"] == {"type": "text"}
    # The answer comes once the outside API did (the effect runs in the background).
    [reply] = await graph_stub.wait_for_async(1, timeout=30)
    assert reply.text == "Your order is shipped."


async def test_ignored_messages_are_never_marked_read(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    hello = text(CUSTOMER, "hi")
    await store(app_runtime, hello, reaction(CUSTOMER))
    await process_finishing(app_runtime, hello["id"], seconds=0.2)
    assert [read.json["message_id"] for read in graph_stub.reads] == [hello["id"]]

    only_ignored = reaction(CUSTOMER)
    await store(app_runtime, only_ignored)
    await process_finishing(app_runtime, only_ignored["id"], seconds=0.2)

    assert len(read_requests(graph_stub)) == 1


async def test_a_failed_read_mark_is_logged_once_and_the_reply_still_goes(
    app_runtime: Runtime, graph_stub: GraphStub, caplog: pytest.LogCaptureFixture
) -> None:
    hello = text(CUSTOMER, "hi")
    await store(app_runtime, hello)
    graph_stub.fail_next_reads(1, status=500, code=1)

    with caplog.at_level(logging.WARNING, logger="convoflow.jobs.read_receipts"):
        await process_finishing(app_runtime, hello["id"], seconds=3)

    warnings = [r for r in caplog.records if r.name == "convoflow.jobs.read_receipts"]
    assert len(warnings) == 1 and hello["id"] in warnings[0].getMessage()
    assert len(read_requests(graph_stub)) == 1  # never retried
    assert len(graph_stub.sent) == 1
    async with app_runtime.db_sessions() as db_session:
        status = await db_session.scalar(
            select(WhatsAppMessage.status).where(WhatsAppMessage.wamid == hello["id"])
        )
    assert status == "processed"


async def test_a_read_mark_goes_out_with_the_token_of_the_number_written_to(
    app_runtime: Runtime, graph_stub: GraphStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice_number = "15551110000"
    monkeypatch.setenv("ALICE_WHATSAPP_TOKEN", "alice-token")
    graph_stub.accept_token(alice_number, "alice-token")
    async with app_runtime.db_sessions.begin() as db_session:
        alice, _ = await accounts.ensure_user(db_session, "alice")
        db_session.add(
            PhoneNumber(
                owner_id=alice.id,
                phone_number_id=alice_number,
                access_token_env="ALICE_WHATSAPP_TOKEN",
            )
        )
        steps = [{"id": "hello", "type": "end", "text": "Alice here"}]
        await templates.create_template(
            db_session,
            owner_id=alice.id,
            definition={
                "template_name": "hello",
                "template_type": "text",
                "trigger_keywords": ["hi"],
                "menu_structure": {"start": "hello", "steps": steps},
            },
        )
    app_runtime.catalog.invalidate()
    hello = text(CUSTOMER, "hi")
    await store(app_runtime, hello, phone_number_id=alice_number)

    await process_finishing(app_runtime, hello["id"], seconds=0.2, owner="alice")

    [read] = graph_stub.reads
    assert (read.path, read.headers["authorization"]) == (
        f"/v25.0/{alice_number}/messages",
        "Bearer alice-token",
    )
    [reply] = graph_stub.sent
    assert (reply.text, reply.headers["authorization"]) == ("Alice here", "Bearer alice-token")


@pytest.mark.parametrize(
    ("overrides", "replies_sent"),
    [({"whatsapp_mark_read": False}, 1), ({"whatsapp_access_token": ""}, 0)],
    ids=["setting-off", "no-access-token"],
)
async def test_no_read_mark_when_switched_off_or_without_a_token(
    database_url: str, graph_stub: GraphStub, overrides: dict[str, Any], replies_sent: int
) -> None:
    async with started_runtime(database_url, graph_stub, **overrides) as runtime:
        hello = text(CUSTOMER, "hi")
        await store(runtime, hello)

        await process_finishing(runtime, hello["id"], seconds=3)

    assert read_requests(graph_stub) == []
    assert len(graph_stub.sent) == replies_sent


def test_mark_read_setting_is_on_by_default_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVOFLOW_WHATSAPP_MARK_READ", raising=False)
    assert Settings().whatsapp_mark_read is True
    monkeypatch.setenv("CONVOFLOW_WHATSAPP_MARK_READ", "false")
    assert Settings().whatsapp_mark_read is False
