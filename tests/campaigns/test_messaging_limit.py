"""The messaging limit on a fake clock: every business-initiated conversation counts (a
flow's template too), a customer whose service window is open never does."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.store.models import WhatsAppMessage
from tests.campaigns.helpers import (
    campaign_with,
    csv_of,
    deliver,
    numbers,
    queue_conversation_row,
    set_tier,
    statuses,
    synced,
    tick,
)
from tests.jobs.helpers import add_contact
from tests.support.graph_stub import GraphStub

COLD = "4915112340001"  # last wrote two days ago: their window is closed
WARM = "4915112340002"  # wrote an hour ago: their window is open


async def queue_flow_template(runtime: Runtime, customer_key: str) -> None:
    """An outbox row as a flow's ``template`` step writes it (no campaign)."""
    template = {"name": "order_update", "language": {"code": "en_US"}}
    await queue_conversation_row(runtime, customer_key, {"type": "template", "template": template})


async def outside_window_flags(runtime: Runtime) -> dict[str, bool | None]:
    """``outside_window`` of every sent outbound row, by customer."""
    async with runtime.db_sessions() as db_session:
        rows = await db_session.execute(
            select(WhatsAppMessage.customer_key, WhatsAppMessage.outside_window).where(
                WhatsAppMessage.direction == "out", WhatsAppMessage.status == "sent"
            )
        )
        return {key: flag for key, flag in rows}


async def test_a_flow_template_outside_the_window_counts_and_one_inside_does_not(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    await set_tier(runtime, "TIER_50")
    await add_contact(runtime, COLD, last_inbound_at=clock.now() - timedelta(days=2))
    await add_contact(runtime, WARM, last_inbound_at=clock.now() - timedelta(hours=1))
    await queue_flow_template(runtime, COLD)
    await queue_flow_template(runtime, WARM)
    await deliver(runtime)
    assert await outside_window_flags(runtime) == {COLD: True, WARM: False}

    # 49 places are left of 50: the flow's template to COLD took one, WARM's took none.
    campaign_id = await campaign_with(runtime, csv_of(numbers(50)))
    report = await tick(runtime)
    assert (report.queued, report.deferred) == (49, 1)
    await deliver(runtime)
    flags = await outside_window_flags(runtime)
    assert sum(1 for flag in flags.values() if flag) == 50  # COLD and the 49 recipients

    clock.advance(hours=23)
    assert (await tick(runtime)).queued == 0
    clock.advance(hours=1, seconds=1)  # the first 50 leave the moving 24 hours
    assert (await tick(runtime)).queued == 1
    await deliver(runtime)
    await tick(runtime)
    assert set((await statuses(runtime, campaign_id)).values()) == {"sent"}


async def test_recipients_whose_window_is_open_do_not_count(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    await set_tier(runtime, "TIER_50")
    audience = numbers(55)
    for key in audience[:10]:  # ten of them wrote an hour ago
        await add_contact(runtime, key, last_inbound_at=clock.now() - timedelta(hours=1))
    first = await campaign_with(runtime, csv_of(audience))
    report = await tick(runtime)
    assert (report.queued, report.deferred) == (55, 0)  # 45 count, the 10 do not
    await deliver(runtime)
    flags = await outside_window_flags(runtime)
    assert [flags[key] for key in audience[:10]] == [False] * 10
    assert all(flags[key] for key in audience[10:])
    await tick(runtime)
    assert set((await statuses(runtime, first)).values()) == {"sent"}

    second = await campaign_with(runtime, csv_of(numbers(6, start=100)))
    report = await tick(runtime)
    assert (report.queued, report.deferred) == (5, 1)  # 5 places were left
    assert sorted((await statuses(runtime, second)).values()) == ["deferred"] + ["queued"] * 5
