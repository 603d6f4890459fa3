"""Webhooks while PostgreSQL is away: 503 (Meta retries), one log line for the outage, and
nothing acknowledged is lost once it is back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from convoflow.store.database import create_engine
from convoflow.store.models import WhatsAppMessage
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT, truncate_all
from tests.support.graph_stub import GraphStub
from tests.support.tcp_proxy import TcpProxy, proxy_to
from tests.support.webhooks import (
    WebhookClient,
    app_settings,
    change,
    running_app,
    text,
    webhook,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with proxy_to(POSTGRES_HOST, POSTGRES_PORT) as started:
        yield started


@pytest.fixture
async def app(pg_url: str, proxy: TcpProxy, graph_stub: GraphStub) -> AsyncIterator[WebhookClient]:
    """The app (jobs and sweeper in-process) with its database behind ``proxy``."""
    direct = create_engine(pg_url)
    await truncate_all(direct)
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    try:
        async with running_app(app_settings(url, graph_stub)) as client:
            yield client
            if not proxy.listening:
                await proxy.start()
    finally:
        await truncate_all(direct)
        await direct.dispose()


def outage_lines(caplog: pytest.LogCaptureFixture, start: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage().startswith(start)]


async def test_database_away_answers_503_logs_one_line_and_nothing_acknowledged_is_lost(
    app: WebhookClient, proxy: TcpProxy, graph_stub: GraphStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert (await app.post(webhook(change([text("15550900001", "hi")])))).status_code == 200
    await graph_stub.wait_for_async(1, timeout=30)
    caplog.clear()
    await proxy.stop()  # the in-process sweeper may be the first to notice

    refused = [
        await app.post(webhook(change([text("15550900002", "hi", message_id=f"wamid.OUT.{i}")])))
        for i in range(25)
    ]

    assert {response.status_code for response in refused} == {503}
    assert refused[0].headers["retry-after"] == "5"
    assert "database is unreachable" in refused[0].json()["detail"]
    [started] = outage_lines(caplog, "outage: database unreachable")
    # The reason is whichever way the pool first noticed (a refused connection, a pooled one
    # found closed, or one cut under a query: the processor loop polls); it is named, once.
    assert started.levelno == logging.WARNING
    reasons = ("connection refused", "connection is closed", "closed in the middle of operation")
    assert any(reason in started.getMessage() for reason in reasons), started.getMessage()
    assert [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR] == []

    await proxy.start()
    # Meta delivers again what it was refused; the first try after the outage goes through.
    redelivered = await app.post(
        webhook(change([text("15550900002", "hi", message_id="wamid.OUT.0")]))
    )

    assert redelivered.status_code == 200
    [recovered] = outage_lines(caplog, "outage over: database back")
    assert "failed attempts" in recovered.getMessage()
    assert len(outage_lines(caplog, "outage: database unreachable")) == 1
    sent = await graph_stub.wait_for_async(2, timeout=30)
    assert [message.to for message in sent] == ["+15550900001", "+15550900002"]
    async with app.runtime.db_sessions() as db_session:
        stored = await db_session.scalars(
            select(WhatsAppMessage.wamid).where(WhatsAppMessage.direction == "in")
        )
        assert len(set(stored.all()) - {"wamid.OUT.0"}) == 1  # refused ones were not stored
