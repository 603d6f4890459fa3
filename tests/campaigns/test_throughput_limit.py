"""A 130429 (the number's throughput exceeded) during a campaign: the whole number waits,
replies still go first once it may send again, nobody is sent twice, everyone ends sent.

The number's rate limiter runs on the fake clock and the sender never waits inline (it
reschedules instead), so the test moves time itself and nothing depends on how fast the
machine is.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from convoflow.clock import FakeClock
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.jobs.sender import SenderPolicy
from convoflow.runtime import Runtime
from convoflow.store.models import WhatsAppMessage
from tests.campaigns.helpers import (
    campaign,
    campaign_with,
    csv_of,
    numbers,
    queue_conversation_row,
    statuses,
    synced,
    tick,
)
from tests.jobs.helpers import add_contact, owner_id
from tests.support.graph_stub import GraphStub

RETRY_AFTER = 60.0  # seconds Meta asks the number to wait


async def deliver_due(runtime: Runtime, customers: list[str]) -> None:
    """One delivery attempt per customer, as the send lane makes it."""
    owner = await owner_id(runtime)
    for key in customers:
        await runtime.jobs.sender.deliver_customer(owner, key)


async def campaign_rows(runtime: Runtime) -> list[WhatsAppMessage]:
    async with runtime.db_sessions() as db_session:
        query = select(WhatsAppMessage).where(WhatsAppMessage.priority == 1)
        return list((await db_session.scalars(query)).all())


async def test_130429_slows_the_whole_number_and_replies_still_go_first(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    # 10 messages a second for the number, on the fake clock; no inline waiting.
    runtime.jobs.sender.limiter = LocalRateLimiter(10, clock=clock)
    runtime.jobs.sender.policy = SenderPolicy(max_inline_wait=0.0)
    await synced(runtime, graph_stub)
    audience = numbers(20)
    campaign_id = await campaign_with(runtime, csv_of(audience))
    assert (await tick(runtime)).queued == 20

    graph_stub.fail_next(1, status=429, code=130429, retry_after=RETRY_AFTER)
    await deliver_due(runtime, audience)
    # The first send met the 130429; every other campaign row was held back, not sent.
    posts = [request for request in graph_stub.requests if request.method == "POST"]
    assert [request.status for request in posts] == [429]
    assert graph_stub.sent == []
    resume_at = clock.now() + timedelta(seconds=RETRY_AFTER)
    held = [row.next_attempt_at for row in await campaign_rows(runtime)]
    assert all(due is not None and due >= resume_at for due in held)

    # A conversation reply queued during the pause waits too: the whole number is paused.
    (replying,) = numbers(1, start=500)
    await add_contact(runtime, replying, last_inbound_at=clock.now() - timedelta(minutes=1))
    await queue_conversation_row(runtime, replying, {"type": "text", "text": {"body": "hi"}})
    await deliver_due(runtime, [replying])
    assert graph_stub.sent == []

    # The pause ends for the reply a step before campaign rows, which take only the capacity
    # replies leave: just after its end, asked for everyone (campaign customers first, one of
    # them due), only the reply goes.
    async with runtime.db_sessions() as db_session:
        reply_due = await db_session.scalar(
            select(WhatsAppMessage.next_attempt_at).where(WhatsAppMessage.priority == 0)
        )
    assert reply_due is not None
    clock.advance((reply_due - clock.now()).total_seconds() + 0.05)
    due = [row.next_attempt_at for row in await campaign_rows(runtime)]
    assert any(at is not None and at <= clock.now() for at in due)  # the one that met 130429
    await deliver_due(runtime, [*audience, replying])
    assert [request.to for request in graph_stub.sent] == [f"+{replying}"]

    # One send per step of the limiter, until everyone has theirs.
    for _ in range(200):
        if len(graph_stub.sent) == 21:
            break
        clock.advance(1)
        await deliver_due(runtime, audience)
    await tick(runtime)
    assert set((await statuses(runtime, campaign_id)).values()) == {"sent"}
    assert [len(graph_stub.sent_to(f"+{key}")) for key in audience] == [1] * 20
    assert len(graph_stub.sent) == 21
    assert (await campaign(runtime, campaign_id)).status == "completed"
