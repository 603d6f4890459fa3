"""The jobs of one process: sends that wait for the rate limiter never hold up processing."""

from __future__ import annotations

from sqlalchemy import select

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.clock import FakeClock
from convoflow.jobs.tasks import DEFAULT_JOB_CONCURRENCY
from convoflow.runtime import Runtime
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import utcnow
from tests.jobs.helpers import add_contact, outbound, queue_texts, started_runtime
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import change, eventually, text, webhook

NEWCOMER = "15550009999"


async def inbound_status(runtime: Runtime, customer: str) -> str | None:
    async with runtime.db_sessions() as db_session:
        return await db_session.scalar(
            select(WhatsAppMessage.status).where(
                WhatsAppMessage.direction == "in", WhatsAppMessage.customer_key == customer
            )
        )


async def test_inbound_messages_are_processed_while_sends_wait_for_a_low_rate_limit(
    database_url: str, graph_stub: GraphStub
) -> None:
    # The limiter's time is the fake clock's, which stands still: after the first send every
    # send waits for a token that never comes, as a long backlog at 1 message/s would.
    clock = FakeClock(utcnow())
    async with started_runtime(
        database_url, graph_stub, clock=clock, whatsapp_max_mps=1
    ) as runtime:
        backlog = [f"155530{n:05d}" for n in range(DEFAULT_JOB_CONCURRENCY + 2)]
        for customer in backlog:
            owner = await add_contact(runtime, customer)
            await queue_texts(runtime, customer, [f"for {customer}"])
        clock.set(utcnow())  # the queued rows are due
        for customer in backlog:
            await runtime.dispatcher.deliver(owner, customer)
        await graph_stub.wait_for_async(1)  # the one token there was

        parsed = parse_webhook(webhook(change([text(NEWCOMER, "hi")])))
        await receive_webhook(
            runtime.db_sessions, PhoneNumberDirectory(runtime.db_sessions), parsed, now=clock.now()
        )
        await runtime.dispatcher.customers_received([(owner, NEWCOMER)])

        async def processed() -> bool:
            return await inbound_status(runtime, NEWCOMER) == "processed"

        await eventually(processed, what="the newcomer's message to be processed")
        [reply] = await outbound(runtime, NEWCOMER)
        assert reply.status == "queued"  # its turn is stored; the reply waits its turn
        assert len(graph_stub.sent) == 1  # while every backlog send still waits
        still_queued = [
            row.customer_key for row in await outbound(runtime) if row.status == "queued"
        ]
        assert len(still_queued) == len(backlog) - 1 + len([NEWCOMER])

        async def every_send_slot_waits_for_the_limiter() -> bool:
            # The lane delivers customers in batches: every queued row is held by a send
            # that waits for the limiter, the newcomer's reply too.
            claims = [
                row.next_attempt_at for row in await outbound(runtime) if row.status == "queued"
            ]
            return len([due for due in claims if due and due > clock.now()]) == len(claims)

        # Stopped only once no claim is half-way (a cancelled UPDATE … RETURNING would keep
        # SQLite's write lock); the rows stay queued.
        await eventually(every_send_slot_waits_for_the_limiter, what="the sends to wait")
        await runtime.jobs.stop_sending(within=0.0)
