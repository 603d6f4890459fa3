"""Campaigns end to end on the stand-in Graph API: audience, content, schedule and window on
a fake clock, pace, the messaging limit, pause/resume/cancel, error codes, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.services.campaigns import lifecycle
from convoflow.services.campaigns import recipients as audiences
from convoflow.services.campaigns.audience import from_csv
from convoflow.store.models import CampaignSendSchedule, WhatsAppMessage
from tests.campaigns.helpers import (
    campaign,
    campaign_with,
    csv_of,
    deliver,
    numbers,
    recipients,
    set_tier,
    statuses,
    synced,
    tick,
)
from tests.jobs.helpers import owner_id, started_runtime
from tests.support.graph_stub import GraphStub


def test_csv_audience_normalises_deduplicates_and_reports_bad_numbers() -> None:
    audience = from_csv(
        "Phone,City\n"
        "+33 6 12 00 00 01,Lyon\n"
        "0033612000001,Paris\n"  # the same number again
        "not-a-number,Nice\n"
        "+1 555 0100,Nowhere\n"  # too short to be a number
        "4915112345678,Berlin\n"
        "\n"
    )
    assert [r.customer_key for r in audience.recipients] == ["33612000001", "4915112345678"]
    assert audience.recipients[0].columns == {"city": "Lyon"}
    assert audience.recipients[0].timezone == "Europe/Paris"
    assert audience.recipients[1].timezone == "Europe/Berlin"
    assert audience.duplicates == 1
    assert [(row.row, row.value) for row in audience.rejected] == [
        (4, "not-a-number"),
        (5, "+1 555 0100"),
    ]


async def test_parameters_are_rendered_per_recipient(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    first, second = numbers(2)
    csv_text = f"phone,discount,city\n{first},20%,Lyon\n{second},35%,Porto\n"
    campaign_id = await campaign_with(runtime, csv_text)
    async with runtime.db_sessions() as db_session:
        key, message = await audiences.preview(
            db_session,
            owner_id=await owner_id(runtime),
            campaign_id=campaign_id,
            customer_key=second,
        )
    assert key == second
    body = message["template"]["components"][0]
    assert [p["text"] for p in body["parameters"]] == ["", "35%", "Porto"]

    await tick(runtime)
    await deliver(runtime)
    sent = {request.to: request.json for request in graph_stub.sent}
    assert set(sent) == {f"+{first}", f"+{second}"}
    texts = [p["text"] for p in sent[f"+{first}"]["template"]["components"][0]["parameters"]]
    assert texts == ["", "20%", "Lyon"]
    assert sent[f"+{first}"]["template"]["name"] == "spring_sale"
    await tick(runtime)
    assert set((await statuses(runtime, campaign_id)).values()) == {"sent"}
    assert (await campaign(runtime, campaign_id)).status == "completed"


async def test_the_daily_window_holds_sending_until_it_opens(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    local = clock.now().astimezone(UTC)
    opens = (local + timedelta(hours=2)).strftime("%H:%M")
    closes = (local + timedelta(hours=4)).strftime("%H:%M")
    plan = lifecycle.Schedule(window_start=opens, window_end=closes, timezone="UTC", max_mps=1000)
    campaign_id = await campaign_with(runtime, csv_of(numbers(3)), plan=plan)

    report = await tick(runtime)
    assert report.started == 1 and report.queued == 0
    clock.advance(hours=1, minutes=59)
    assert (await tick(runtime)).queued == 0
    clock.advance(minutes=1)
    assert (await tick(runtime)).queued == 3
    assert set((await statuses(runtime, campaign_id)).values()) == {"queued"}


async def test_a_campaign_is_paced_at_its_max_mps_in_recorded_batches(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    campaign_id = await campaign_with(
        runtime, csv_of(numbers(20)), plan=lifecycle.Schedule(max_mps=5)
    )
    queued = [(await tick(runtime)).queued]  # the first batch: two seconds' worth
    for _ in range(3):
        await deliver(runtime)
        clock.advance(1)
        queued.append((await tick(runtime)).queued)
    assert queued == [10, 5, 5, 0]
    await deliver(runtime)
    async with runtime.db_sessions() as db_session:
        batches = (
            await db_session.scalars(
                select(CampaignSendSchedule.queued)
                .where(CampaignSendSchedule.campaign_id == campaign_id)
                .order_by(CampaignSendSchedule.sequence)
            )
        ).all()
    assert list(batches) == [10, 5, 5]
    assert len(graph_stub.sent) == 20


async def test_the_messaging_limit_defers_the_excess_until_the_24_hours_move_on(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    await set_tier(runtime, "TIER_50")
    campaign_id = await campaign_with(runtime, csv_of(numbers(53)))
    report = await tick(runtime)
    assert (report.queued, report.deferred) == (50, 3)
    held = await campaign(runtime, campaign_id)
    assert held.held_until == clock.now() + timedelta(hours=24)
    clock.advance(hours=23)
    assert (await tick(runtime)).queued == 0
    clock.advance(hours=1, seconds=1)
    assert (await tick(runtime)).queued == 3
    assert set((await statuses(runtime, campaign_id)).values()) == {"queued"}


async def test_pause_withdraws_queued_rows_and_resume_sends_each_once(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    owner = await owner_id(runtime)
    campaign_id = await campaign_with(runtime, csv_of(numbers(4)))
    await tick(runtime)
    now = runtime.clock.now()
    async with runtime.db_sessions() as db_session:
        paused = await lifecycle.pause(
            db_session, owner_id=owner, campaign_id=campaign_id, reason="checking", now=now
        )
    assert (paused.status, paused.paused_reason) == ("paused", "checking")
    assert set((await statuses(runtime, campaign_id)).values()) == {"deferred"}
    await deliver(runtime)
    assert graph_stub.sent == []
    assert (await tick(runtime)).queued == 0

    async with runtime.db_sessions() as db_session:
        await lifecycle.resume(db_session, owner_id=owner, campaign_id=campaign_id, now=now)
    runtime.clock.advance(1)  # type: ignore[attr-defined]
    assert (await tick(runtime)).queued == 4
    await deliver(runtime)
    await tick(runtime)
    assert sorted(r.to for r in graph_stub.sent) == sorted(f"+{n}" for n in numbers(4))
    assert set((await statuses(runtime, campaign_id)).values()) == {"sent"}


async def test_a_row_waiting_for_a_retry_is_refused_by_the_sender_once_paused(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    owner = await owner_id(runtime)
    campaign_id = await campaign_with(runtime, csv_of(numbers(1)))
    await tick(runtime)
    graph_stub.fail_next(1, status=500, code=131000)
    await deliver(runtime)  # fails transiently: the row waits for a retry
    async with runtime.db_sessions() as db_session:
        await lifecycle.pause(
            db_session, owner_id=owner, campaign_id=campaign_id, reason="x", now=runtime.clock.now()
        )
    runtime.clock.advance(600)  # type: ignore[attr-defined]
    await deliver(runtime)
    assert graph_stub.sent == []
    async with runtime.db_sessions() as db_session:
        row = (await db_session.scalars(select(WhatsAppMessage))).one()
    assert (row.status, row.error_text) == ("failed", "withdrawn: campaign paused")
    await tick(runtime)
    assert set((await statuses(runtime, campaign_id)).values()) == {"deferred"}


async def test_cancel_skips_everyone_not_yet_sent(runtime: Runtime, graph_stub: GraphStub) -> None:
    await synced(runtime, graph_stub)
    owner = await owner_id(runtime)
    campaign_id = await campaign_with(
        runtime, csv_of(numbers(6)), plan=lifecycle.Schedule(max_mps=1)
    )
    assert (await tick(runtime)).queued == 2
    async with runtime.db_sessions() as db_session:
        cancelled = await lifecycle.cancel(
            db_session, owner_id=owner, campaign_id=campaign_id, now=runtime.clock.now()
        )
    assert cancelled.status == "cancelled"
    await deliver(runtime)
    await tick(runtime)
    assert graph_stub.sent == []
    assert set((await statuses(runtime, campaign_id)).values()) == {"skipped"}


async def test_131049_defers_for_24_hours_twice_then_skips(
    runtime: Runtime, graph_stub: GraphStub, clock: FakeClock
) -> None:
    await synced(runtime, graph_stub)
    (number,) = numbers(1)
    graph_stub.fail_for(f"+{number}", code=131049)
    campaign_id = await campaign_with(runtime, csv_of([number]))
    seen = []
    for _ in range(3):
        await tick(runtime)
        await deliver(runtime)
        await tick(runtime)
        row = (await recipients(runtime, campaign_id))[number]
        seen.append((row.status, row.defer_count))
        clock.advance(hours=24, seconds=1)
    assert seen == [("deferred", 1), ("deferred", 2), ("skipped", 2)]
    assert (await campaign(runtime, campaign_id)).status == "completed"


async def test_131026_fails_and_131050_skips_and_opts_out(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    gone, unsubscribed = numbers(2)
    graph_stub.fail_for(f"+{gone}", code=131026)
    graph_stub.fail_for(f"+{unsubscribed}", code=131050)
    campaign_id = await campaign_with(runtime, csv_of([gone, unsubscribed]))
    await tick(runtime)
    await deliver(runtime)
    await tick(runtime)
    rows = await recipients(runtime, campaign_id)
    assert (rows[gone].status, rows[gone].error_code) == ("failed", 131026)
    assert (rows[unsubscribed].status, rows[unsubscribed].error_code) == ("skipped", 131050)


async def test_131048_pauses_the_campaigns_of_the_number_and_says_why(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    campaign_id = await campaign_with(runtime, csv_of(numbers(1)))
    graph_stub.fail_next(1, status=400, code=131048)
    await tick(runtime)
    await deliver(runtime)
    await tick(runtime)
    paused = await campaign(runtime, campaign_id)
    assert paused.status == "paused"
    assert "131048" in (paused.paused_reason or "")
    assert set((await statuses(runtime, campaign_id)).values()) == {"deferred"}


async def test_a_restart_mid_campaign_sends_nobody_twice_and_leaves_no_gap(
    database_url: str, graph_stub: GraphStub
) -> None:
    clock = FakeClock(datetime.now(UTC))
    everyone = numbers(12)
    async with started_runtime(
        database_url, graph_stub, clock=clock, whatsapp_business_account_id="102290129340398"
    ) as first:
        await synced(first, graph_stub)
        campaign_id = await campaign_with(
            first, csv_of(everyone), plan=lifecycle.Schedule(max_mps=3)
        )
        await tick(first)
        await deliver(first)
        clock.advance(1)
        await tick(first)  # queued, not delivered: the process "dies" here
        # A second process over the same database takes over (the first one's rows stay).
        second = Runtime.build(first.settings, clock=clock)
        try:
            for _ in range(10):
                await deliver(second)
                clock.advance(1)
                await tick(second)
            assert (await campaign(second, campaign_id)).status == "completed"
        finally:
            await second.close()
        sent = sorted(request.to or "" for request in graph_stub.sent)
        assert sent == sorted(f"+{n}" for n in everyone)
        async with first.db_sessions() as db_session:
            count = await db_session.scalar(select(func.count()).select_from(WhatsAppMessage))
        assert count == 12
