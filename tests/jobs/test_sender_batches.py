"""The sender delivering many customers at once: one claim, one record, order kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from convoflow.clock import FakeClock
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.jobs.sender import OutboxSender
from convoflow.runtime import Runtime
from convoflow.store.models import WhatsAppMessage
from tests.jobs.helpers import add_contact, outbound, queue_texts, texts_of
from tests.jobs.test_sender import FAST
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import eventually

CUSTOMERS = [f"1555000{n:04d}" for n in range(6)]


def batch_sender(runtime: Runtime, limiter: LocalRateLimiter, clock: FakeClock) -> OutboxSender:
    return OutboxSender(
        engine=runtime.engine,
        db_sessions=runtime.db_sessions,
        graph=runtime.graph,
        limiter=limiter,
        policy=FAST,
        clock=clock,
    )


def ahead_of_the_rows() -> FakeClock:
    """A minute ahead of the wall clock: the rows the test queues are due from the start."""
    return FakeClock(datetime.now(UTC) + timedelta(minutes=1))


async def test_many_customers_go_out_together_each_in_order_and_once(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    customers = []
    for customer in CUSTOMERS:
        owner = await add_contact(app_runtime, customer)
        await queue_texts(app_runtime, customer, [f"{customer} {n}" for n in range(3)])
        customers.append((owner, customer))
    clock = ahead_of_the_rows()
    sender = batch_sender(app_runtime, LocalRateLimiter(1000, clock=clock), clock)

    reports = await sender.deliver_customers(customers)

    assert {key: report.sent for key, report in reports.items()} == dict.fromkeys(customers, 3)
    sent = texts_of(graph_stub.sent)
    for customer in CUSTOMERS:
        assert [text for text in sent if text and text.startswith(customer)] == [
            f"{customer} {n}" for n in range(3)
        ]
    rows = await outbound(app_runtime)
    assert {row.status for row in rows} == {"sent"}
    assert sorted(row.wamid for row in rows) == sorted(request.wamid for request in graph_stub.sent)
    assert all(row.attempts == 1 for row in rows)


async def test_a_row_waiting_for_the_limiter_holds_back_no_record_of_another_send(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    # One message a second on a clock that stands still: the batch gets one slot.
    clock = ahead_of_the_rows()
    customers = []
    for customer in CUSTOMERS[:2]:
        owner = await add_contact(app_runtime, customer)
        await queue_texts(app_runtime, customer, [f"to {customer}"])
        customers.append((owner, customer))
    sender = batch_sender(app_runtime, LocalRateLimiter(1, clock=clock), clock)

    delivering = asyncio.create_task(sender.deliver_customers(customers))

    async def first_recorded() -> bool:
        return [row.status for row in await outbound(app_runtime)] == ["sent", "queued"]

    await eventually(first_recorded, what="the send that had a slot to be recorded")
    assert len(graph_stub.sent) == 1
    clock.advance(1)  # the next slot is free
    reports = await delivering
    assert [reports[key].sent for key in customers] == [1, 1]
    assert [row.status for row in await outbound(app_runtime)] == ["sent", "sent"]


async def test_in_a_batch_replies_take_the_rate_limit_slots_before_campaign_rows(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    clock = ahead_of_the_rows()
    campaign, reply = CUSTOMERS[:2]
    customers = []
    for customer in (campaign, reply):
        owner = await add_contact(app_runtime, customer)
        await queue_texts(app_runtime, customer, [f"to {customer}"])
        customers.append((owner, customer))
    async with app_runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(WhatsAppMessage)
            .where(WhatsAppMessage.customer_key == campaign)
            .values(priority=1)
        )
    sender = batch_sender(app_runtime, LocalRateLimiter(1, clock=clock), clock)

    delivering = asyncio.create_task(sender.deliver_customers(customers))
    await graph_stub.wait_for_async(1)
    assert texts_of(graph_stub.sent) == [f"to {reply}"]
    clock.advance(2)  # a campaign row takes only spare capacity: one interval more
    await delivering

    assert texts_of(graph_stub.sent) == [f"to {reply}", f"to {campaign}"]
