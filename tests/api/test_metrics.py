"""``GET /metrics`` of ``convoflow serve``: off by default, and what it reports when on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import select

from convoflow.clock import FakeClock
from convoflow.store.models import User, WhatsAppMessage
from tests.support.databases import REDIS_URL
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, WebhookClient, clean_app, eventually, text

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(app: WebhookClient) -> Samples:
    """Every sample of the app's /metrics, by name and labels."""
    response = await app.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_answer_404_unless_turned_on(sqlite_url: str) -> None:
    async with clean_app(sqlite_url) as app:
        assert (await app.http.get("/metrics")).status_code == 404


@pytest.mark.postgres
async def test_a_webhook_answered_end_to_end_shows_in_the_metrics(
    pg_url: str, graph_stub: GraphStub
) -> None:
    async with clean_app(pg_url, graph_stub, metrics=True) as app:
        before = await scrape(app)  # the counters are the process's: compare with before
        after: Samples = {}

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        graph_stub.fail_for("+15550900002", code=131026)  # undeliverable: a permanent error
        await app.send(text("15550900001", "hi"), text("15550900002", "hi"))

        async def both_settled() -> bool:
            after.update(await scrape(app))
            return (
                grew("convoflow_sends_total", result="sent", error_code="") >= 1
                and grew("convoflow_sends_total", result="failed", error_code="131026") >= 1
            )

        await eventually(both_settled, what="one reply sent and one failed")

    assert grew("convoflow_webhook_seconds_count", status="200") >= 1
    assert grew("convoflow_webhook_seconds_bucket", status="200", le="+Inf") >= 1
    assert grew("convoflow_sends_total", result="sent", error_code="") >= 1
    assert grew("convoflow_sends_total", result="failed", error_code="131026") == 1
    assert grew("convoflow_batch_size_sum", stage="inbox") >= 2  # both messages, one delivery
    # Both customers' messages were processed, in one batch or two.
    assert grew("convoflow_batch_size_sum", stage="processor") >= 2
    # Both replies were claimed, in one batch of the sender or two.
    assert grew("convoflow_batch_size_sum", stage="sender") >= 2
    assert grew("convoflow_processing_seconds_count") >= 2
    assert grew("convoflow_rate_limit_wait_seconds_count", outcome="acquired") >= 2
    assert value(after, "convoflow_workers_alive") == 1  # jobs run in the server
    assert value(after, "convoflow_pending_inbound") == 0
    assert value(after, "convoflow_queued_outbound") == 0
    assert value(after, "convoflow_outbox_lag_seconds") == 0
    assert value(after, "convoflow_db_pool_capacity") > 0
    assert value(after, "convoflow_db_session_slots") > 0
    assert ("convoflow_db_pool_in_use", frozenset()) in after


@pytest.mark.postgres
async def test_backlog_gauges_count_the_waiting_rows_and_age_with_the_clock(
    pg_url: str, redis_client: Redis
) -> None:
    clock = FakeClock(datetime.now(UTC))
    # With Redis the server only enqueues: nothing here processes or sends the rows below.
    async with clean_app(pg_url, redis_url=REDIS_URL, clock=clock, metrics=True) as app:
        async with app.runtime.db_sessions.begin() as db_session:
            owner = await db_session.scalar(select(User.id).where(User.username == "admin"))
            now = clock.now()
            rows = [
                *[row(owner, "in", "received", now) for _ in range(3)],
                row(owner, "in", "processed", now),
                row(owner, "out", "queued", now),
                row(owner, "out", "queued", now),
                row(owner, "out", "queued", now, due=now + timedelta(minutes=10)),  # a retry
                row(owner, "out", "sent", now),
                row(owner, "out", "queued", now, channel="terminal"),  # never delivered
            ]
            db_session.add_all(rows)
        clock.advance(90)

        samples = await scrape(app)
        assert value(samples, "convoflow_pending_inbound") == 3
        assert value(samples, "convoflow_queued_outbound") == 3
        assert value(samples, "convoflow_inbound_lag_seconds") == 90
        assert value(samples, "convoflow_outbox_lag_seconds") == 90
        assert value(samples, "convoflow_workers_alive") == 0  # no worker runs

        await app.runtime.heartbeats.beat("worker-1", ttl_seconds=600, about={})
        assert value(await scrape(app), "convoflow_workers_alive") == 1


def row(
    owner: str | None,
    direction: str,
    status: str,
    now: datetime,
    *,
    due: datetime | None = None,
    channel: str = PHONE_NUMBER_ID,
) -> WhatsAppMessage:
    """A stored message created ``now``."""
    return WhatsAppMessage(
        owner_id=owner,
        phone_number_id=channel,
        customer_key="15550900010",
        direction=direction,
        type="text",
        payload={"type": "text", "text": {"body": "waiting"}},
        status=status,
        attempts=0,
        next_attempt_at=due,
        created_at=now,
    )
