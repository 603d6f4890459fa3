"""The send lane: deliveries on their own slots, one run per customer at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

import pytest

from convoflow.clock import SystemClock
from convoflow.jobs.send_lane import SendLane
from convoflow.jobs.sender import DeliveryReport
from convoflow.store.types import utcnow
from tests.support.webhooks import eventually


class Deliveries:
    """Records delivery runs; a run of a customer in ``held`` waits until released."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.running: set[str] = set()
        self.overlapped = False
        self.held: dict[str, asyncio.Event] = {}
        self.reports: dict[str, list[DeliveryReport]] = {}
        self.batches: list[list[str]] = []

    async def deliver(self, owner_id: str, customer: str) -> DeliveryReport:
        self.overlapped |= customer in self.running
        self.running.add(customer)
        self.runs.append(customer)
        try:
            if customer in self.held:
                await self.held[customer].wait()
            if customer == "broken":
                raise LookupError("a bug in the delivery")
            if customer == "unreachable":
                raise ConnectionRefusedError(111, "Connect call failed")
            reports = self.reports.get(customer) or [DeliveryReport()]
            return reports.pop(0)
        finally:
            self.running.discard(customer)

    async def deliver_batch(
        self, customers: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], DeliveryReport]:
        self.batches.append([customer for _, customer in customers])
        if any(customer == "broken" for _, customer in customers):
            raise LookupError("a bug in the delivery")
        return {key: await self.deliver(*key) for key in customers}

    def hold(self, customer: str) -> asyncio.Event:
        self.held[customer] = asyncio.Event()
        return self.held[customer]


async def test_a_customer_asked_for_during_its_run_gets_one_more_run_never_two_at_once() -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, slots=4)
    release = deliveries.hold("ana")

    lane.request("owner", "ana")
    await eventually(lambda: _true(deliveries.runs == ["ana"]), what="the first run")
    for _ in range(3):
        lane.request("owner", "ana")  # new replies queued meanwhile
    release.set()
    await lane.wait_idle()

    assert deliveries.runs == ["ana", "ana"] and not deliveries.overlapped
    await lane.stop(within=0)


async def test_what_follows_a_delivery_runs_after_it() -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, slots=1)
    events: list[str] = []

    async def read_mark() -> None:
        events.append(f"read mark after {deliveries.runs}")

    lane.request("owner", "ana", then=read_mark)
    await lane.wait_idle()

    assert events == ["read mark after ['ana']"]
    await lane.stop(within=0)


async def test_a_failed_delivery_is_logged_and_the_lane_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, slots=1)

    with caplog.at_level(logging.ERROR, logger="convoflow.jobs.send_lane"):
        lane.request("owner", "broken")
        lane.request("owner", "ana")
        await lane.wait_idle()

    assert deliveries.runs == ["broken", "ana"]
    assert "delivery to broken failed" in caplog.text
    await lane.stop(within=0)


async def test_a_delivery_failing_for_an_outage_is_one_outage_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, slots=1)

    with caplog.at_level(logging.INFO):
        for _ in range(3):
            lane.request("owner", "unreachable")
            await lane.wait_idle()

    assert deliveries.runs == ["unreachable"] * 3
    assert [record.exc_info for record in caplog.records if record.exc_info] == []
    assert len([r for r in caplog.records if "outage: database" in r.getMessage()]) == 1
    await lane.stop(within=0)


async def test_a_head_row_waiting_for_a_retry_is_delivered_again_when_due() -> None:
    deliveries = Deliveries()
    deliveries.reports["ana"] = [DeliveryReport(retry_at=utcnow() + timedelta(seconds=0.05))]
    lane = SendLane(deliveries.deliver, slots=1, clock=SystemClock())

    lane.request("owner", "ana")

    await eventually(lambda: _true(deliveries.runs == ["ana", "ana"]), what="the retry run")
    await lane.stop(within=0)


async def test_stopping_cancels_what_is_still_running() -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, slots=2)
    deliveries.hold("ana")
    lane.request("owner", "ana")
    await eventually(lambda: _true(deliveries.running == {"ana"}), what="the run to start")

    await lane.stop(within=0)

    assert deliveries.running == set()


async def test_customers_waiting_together_are_delivered_in_one_batch_in_request_order() -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, deliver_batch=deliveries.deliver_batch, slots=1)
    release = deliveries.hold("ana")
    lane.request("owner", "ana")
    await eventually(lambda: _true(deliveries.running == {"ana"}), what="the first run")
    followed: list[str] = []

    async def read_mark(customer: str) -> None:
        followed.append(customer)

    for customer in ("bea", "cris", "dani"):
        lane.request("owner", customer, then=lambda customer=customer: read_mark(customer))
    release.set()
    await lane.wait_idle()

    assert deliveries.runs == ["ana", "bea", "cris", "dani"]
    assert deliveries.batches == [["bea", "cris", "dani"]]  # "ana" ran alone, then one batch
    assert sorted(followed) == ["bea", "cris", "dani"]
    await lane.stop(within=0)


async def test_a_batch_failing_for_a_bug_is_run_again_one_customer_at_a_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliveries = Deliveries()
    lane = SendLane(deliveries.deliver, deliver_batch=deliveries.deliver_batch, slots=1)
    release = deliveries.hold("ana")
    lane.request("owner", "ana")
    await eventually(lambda: _true(deliveries.running == {"ana"}), what="the first run")

    with caplog.at_level(logging.ERROR, logger="convoflow.jobs.send_lane"):
        for customer in ("bea", "broken", "cris"):
            lane.request("owner", customer)
        release.set()
        await lane.wait_idle()

    assert deliveries.batches == [["bea", "broken", "cris"]]
    assert deliveries.runs == ["ana", "bea", "broken", "cris"]  # each on its own after it
    assert "delivery to broken failed" in caplog.text
    await lane.stop(within=0)


async def _true(value: bool) -> bool:
    return value
