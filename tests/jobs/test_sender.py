"""The outbox sender against the stand-in Graph API: order, retries, failures, the window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from convoflow.clock import FakeClock
from convoflow.jobs.backoff import Backoff
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.jobs.sender import OutboxSender, SenderPolicy
from convoflow.runtime import Runtime
from convoflow.services.access.numbers.tokens import NumberTokens, ServerNumber
from convoflow.store import templates
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import utcnow
from tests.jobs.helpers import add_contact, outbound, queue_texts, texts_of
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID

CUSTOMER = "15550001111"
FAST = SenderPolicy(max_attempts=4, backoff=Backoff(base_seconds=0.01, cap_seconds=0.05))


def sender_for(runtime: Runtime, policy: SenderPolicy = FAST) -> OutboxSender:
    """A sender on its own fake clock, so retries and backoff are reached by moving it."""
    return OutboxSender(
        engine=runtime.engine,
        db_sessions=runtime.db_sessions,
        graph=runtime.graph,
        limiter=LocalRateLimiter(1000),
        policy=policy,
        # A minute ahead of the wall clock: rows the test queues (stamped with the real
        # time) are due for this sender from the start.
        clock=FakeClock(datetime.now(UTC) + timedelta(minutes=1)),
    )


async def deliver_until_settled(sender: OutboxSender, owner: str, customer_key: str) -> None:
    """Call the sender until the customer has no queued row left, moving its clock past
    each backoff in between (bounded: a few minutes of fake time, inside the window)."""
    clock = sender.clock
    assert isinstance(clock, FakeClock)
    for _ in range(60):
        await sender.deliver_customer(owner, customer_key)
        if not [row for row in await outbound_of(sender, customer_key) if row.status == "queued"]:
            return
        clock.advance(5)
    raise AssertionError("rows still queued")


async def outbound_of(sender: OutboxSender, customer_key: str) -> list[WhatsAppMessage]:
    from sqlalchemy import select

    async with sender.db_sessions() as db_session:
        query = select(WhatsAppMessage).where(
            WhatsAppMessage.direction == "out", WhatsAppMessage.customer_key == customer_key
        )
        return list((await db_session.scalars(query.order_by(WhatsAppMessage.id))).all())


async def test_rows_go_out_in_order_with_their_wamid(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["one", "two", "three"])

    report = await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    assert report.sent == 3
    assert texts_of(graph_stub.sent) == ["one", "two", "three"]
    assert {request.to for request in graph_stub.sent} == {f"+{CUSTOMER}"}
    assert graph_stub.sent[0].path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    rows = await outbound(app_runtime, CUSTOMER)
    assert [row.status for row in rows] == ["sent"] * 3
    assert [row.wamid for row in rows] == [request.wamid for request in graph_stub.sent]
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows)


async def test_terminal_chat_rows_are_never_delivered(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["printed by the chat"], phone_number_id="terminal")

    report = await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    assert report.sent == 0 and graph_stub.requests == []
    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "queued"


async def test_a_later_message_never_overtakes_one_waiting_for_its_retry(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["first", "second"])
    graph_stub.fail_next(1, status=503, code=131016, retry_after=0.2)
    sender = sender_for(app_runtime)

    report = await sender.deliver_customer(owner, CUSTOMER)

    assert report.sent == 0 and report.retry_at is not None
    assert graph_stub.sent == []  # "second" waits behind "first"
    first, second = await outbound(app_runtime, CUSTOMER)
    assert first.status == "queued" and first.attempts == 1 and first.error_code == 131016
    assert first.next_attempt_at is not None and first.next_attempt_at > utcnow()
    assert second.status == "queued" and second.attempts == 0

    await deliver_until_settled(sender, owner, CUSTOMER)
    assert texts_of(graph_stub.sent) == ["first", "second"]


async def test_permanent_error_fails_the_row_and_the_next_one_goes(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["refused", "fine"])
    graph_stub.fail_next(1, status=400, code=131026)

    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    refused, fine = await outbound(app_runtime, CUSTOMER)
    assert refused.status == "failed" and refused.error_code == 131026
    assert refused.error_text and "Scripted failure" in refused.error_text
    assert fine.status == "sent"
    assert texts_of(graph_stub.sent) == ["fine"]


async def test_retries_stop_after_the_last_attempt(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["never"])
    graph_stub.fail_next(10, status=500, code=1, retry_after=0)

    await deliver_until_settled(sender_for(app_runtime), owner, CUSTOMER)

    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "failed" and row.attempts == FAST.max_attempts
    assert row.error_text and row.error_text.startswith("gave up after 4 attempts")


async def test_rate_limit_burst_ends_with_every_message_delivered_once(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, [f"message {n}" for n in range(5)])
    graph_stub.fail_next(1, status=400, code=131056)  # pair rate: 4^0 s
    graph_stub.fail_next(2, status=429, code=130429, retry_after=0.05)
    graph_stub.fail_next(1, status=429, code=4)
    patient = SenderPolicy(max_attempts=8, backoff=FAST.backoff)

    await deliver_until_settled(sender_for(app_runtime, patient), owner, CUSTOMER)

    assert texts_of(graph_stub.sent) == [f"message {n}" for n in range(5)]
    rows = await outbound(app_runtime, CUSTOMER)
    assert [row.status for row in rows] == ["sent"] * 5
    assert rows[0].attempts == 5  # four refusals, then accepted


async def test_throughput_limit_holds_back_the_whole_number(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["hello"])
    graph_stub.fail_next(1, status=429, code=130429, retry_after=30)
    limiter = LocalRateLimiter(1000)
    sender = OutboxSender(
        engine=app_runtime.engine,
        db_sessions=app_runtime.db_sessions,
        graph=app_runtime.graph,
        limiter=limiter,
    )

    await sender.deliver_customer(owner, CUSTOMER)

    assert await limiter.reserve(PHONE_NUMBER_ID) > 20  # every customer of the number waits
    assert await limiter.reserve("another-number") == 0.0


async def test_customer_without_phone_number_is_sent_to_by_bsuid(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    bsuid = "US.13491208655302741918"
    owner = await add_contact(app_runtime, bsuid, bsuid=bsuid)
    await queue_texts(app_runtime, bsuid, ["hello"])

    await sender_for(app_runtime).deliver_customer(owner, bsuid)

    [request] = graph_stub.sent
    assert request.json["recipient"] == bsuid and "to" not in request.json


async def test_two_senders_at_once_deliver_each_row_once_in_order(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, [f"m{n}" for n in range(12)])
    senders = [sender_for(app_runtime), sender_for(app_runtime)]

    await asyncio.gather(*(sender.deliver_customer(owner, CUSTOMER) for sender in senders * 2))
    await deliver_until_settled(senders[0], owner, CUSTOMER)

    assert texts_of(graph_stub.sent) == [f"m{n}" for n in range(12)]


async def test_outside_the_window_without_template_the_row_fails_clearly(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER, last_inbound_at=utcnow() - timedelta(hours=25))
    await queue_texts(app_runtime, CUSTOMER, ["too late"])

    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    assert graph_stub.requests == []
    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "failed" and row.error_code == 131047
    assert row.error_text and "outside the 24-hour customer service window" in row.error_text


async def lapsed_customer_with_template(
    runtime: Runtime,
    *,
    default_params: dict[str, Any] | None = None,
    graph_settings: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """A customer who last wrote two days ago, and a template whose messages go to them."""
    owner = await add_contact(runtime, CUSTOMER, last_inbound_at=utcnow() - timedelta(days=2))
    graph = {"start": "a", **(graph_settings or {}), "steps": [{"id": "a", "type": "end"}]}
    async with runtime.db_sessions.begin() as db_session:
        template = await templates.create_template(
            db_session,
            owner_id=owner,
            definition={
                "template_name": "reminder",
                "menu_structure": graph,
                "default_params": default_params or {},
            },
        )
    return owner, template.id


async def test_outside_the_window_the_reengagement_template_goes_once(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner, template_id = await lapsed_customer_with_template(
        app_runtime,
        default_params={"reengagement_template": {"name": "we_miss_you", "language": "de"}},
    )
    await queue_texts(app_runtime, CUSTOMER, ["late 1", "late 2"], template_id=template_id)
    sender = sender_for(app_runtime)

    await sender.deliver_customer(owner, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["late 3"], template_id=template_id)
    await sender.deliver_customer(owner, CUSTOMER)

    [request] = graph_stub.sent
    assert request.json["type"] == "template"
    assert request.json["template"] == {"name": "we_miss_you", "language": {"code": "de"}}
    rows = await outbound(app_runtime, CUSTOMER)
    assert [(row.type, row.status) for row in rows] == [
        ("text", "failed"),
        ("text", "failed"),
        ("template", "sent"),
        ("text", "failed"),
    ]
    assert "re-engagement template 'we_miss_you' queued instead" in (rows[0].error_text or "")
    assert "already sent" in (rows[1].error_text or "")
    assert "already sent" in (rows[3].error_text or "")


async def test_reengagement_template_named_in_the_step_graph_is_used(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner, template_id = await lapsed_customer_with_template(
        app_runtime, graph_settings={"reengagement_template": "come_back"}
    )
    await queue_texts(app_runtime, CUSTOMER, ["late"], template_id=template_id)

    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    [request] = graph_stub.sent
    assert request.json["template"] == {"name": "come_back", "language": {"code": "en_US"}}


@pytest.mark.parametrize("code", [131047])
async def test_graph_refusing_outside_the_window_fails_the_row(
    app_runtime: Runtime, graph_stub: GraphStub, code: int
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["refused", "also refused"])
    graph_stub.fail_for(f"+{CUSTOMER}", code=code)

    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    rows = await outbound(app_runtime, CUSTOMER)
    assert [(row.status, row.error_code) for row in rows] == [("failed", code)] * 2
    assert graph_stub.sent == []


async def test_a_row_settled_meanwhile_is_not_touched(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    [row_id] = await queue_texts(app_runtime, CUSTOMER, ["cancelled by an operator"])
    async with app_runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(WhatsAppMessage).where(WhatsAppMessage.id == row_id).values(status="failed")
        )

    report = await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    assert report.sent == 0 and graph_stub.requests == []


async def test_without_an_access_token_rows_fail_saying_what_to_set(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["hello"])
    tokens = NumberTokens(
        app_runtime.db_sessions,
        cipher=app_runtime.token_cipher,
        server_number=ServerNumber(PHONE_NUMBER_ID, access_token=""),
    )
    sender = OutboxSender(
        engine=app_runtime.engine,
        db_sessions=app_runtime.db_sessions,
        graph=app_runtime.graph,
        limiter=LocalRateLimiter(1000),
        tokens=tokens,
    )

    await sender.deliver_customer(owner, CUSTOMER)

    assert graph_stub.requests == []
    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "failed"
    assert row.error_text == "not sent: CONVOFLOW_WHATSAPP_ACCESS_TOKEN is not set"
