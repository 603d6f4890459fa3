"""Status webhooks that overtake Meta's answer to a send are kept and applied on the settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.runtime import Runtime
from convoflow.services.inbox.early_statuses import (
    EARLY_STATUS_TTL,
    apply_early_statuses,
    apply_webhook_statuses,
)
from convoflow.services.inbox.intake import StatusRecord
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.store import templates
from convoflow.store.models import PendingStatus, WhatsAppMessage
from tests.jobs.helpers import add_contact, outbound, queue_texts
from tests.jobs.test_sender import CUSTOMER, sender_for
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.webhooks import change, eventually, status, webhook


async def deliver_statuses(runtime: Runtime, *statuses: dict[str, Any]) -> None:
    """One status webhook per status, stored as the webhook route stores them."""
    directory = PhoneNumberDirectory(runtime.db_sessions)
    for item in statuses:
        parsed = parse_webhook(webhook(change(statuses=[item])))
        await receive_webhook(runtime.db_sessions, directory, parsed, now=runtime.clock.now())


async def kept_statuses(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.db_sessions() as db_session:
        rows = await db_session.execute(
            select(PendingStatus.wamid, PendingStatus.status).order_by(
                PendingStatus.wamid, PendingStatus.status
            )
        )
        return [(row.wamid, row.status) for row in rows]


def overtake_first_send(
    graph_stub: GraphStub,
    work: Callable[[str], Coroutine[Any, Any, None]],
) -> list[str]:
    """Run ``work(wamid)`` on this loop before the stub answers the first accepted send.

    Returns the list the wamid is recorded in, once the hook ran.
    """
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    def hook(request: RecordedRequest) -> None:
        if seen or request.wamid is None:
            return
        seen.append(request.wamid)
        # The sender is awaiting this very answer, so the loop is free to run the webhook.
        asyncio.run_coroutine_threadsafe(work(request.wamid), loop).result(timeout=30)

    graph_stub.on_accept(hook)
    return seen


async def test_read_status_before_the_send_answer_leaves_the_row_read(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["hello"])
    kept_meanwhile: list[list[tuple[str, str]]] = []

    async def read_early(wamid: str) -> None:
        await deliver_statuses(app_runtime, status(wamid, "read"))
        kept_meanwhile.append(await kept_statuses(app_runtime))

    overtake_first_send(graph_stub, read_early)
    report = await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    [wamid] = [request.wamid for request in graph_stub.sent]
    assert report.sent == 1
    assert kept_meanwhile == [[(wamid, "read")]]  # no row carried the wamid yet
    [row] = await outbound(app_runtime, CUSTOMER)
    assert (row.wamid, row.status) == (wamid, "read")
    assert await kept_statuses(app_runtime) == []


async def test_delivered_then_read_before_the_answer_ends_read(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["hello"])
    kept_meanwhile: list[list[tuple[str, str]]] = []

    async def delivered_and_read(wamid: str) -> None:
        # Meta re-delivers webhooks: the repeated `delivered` is kept once.
        await deliver_statuses(
            app_runtime,
            status(wamid, "delivered"),
            status(wamid, "delivered"),
            status(wamid, "read"),
        )
        kept_meanwhile.append(await kept_statuses(app_runtime))

    overtake_first_send(graph_stub, delivered_and_read)
    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)

    [wamid] = [request.wamid for request in graph_stub.sent]
    assert kept_meanwhile == [[(wamid, "delivered"), (wamid, "read")]]
    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "read"
    assert await kept_statuses(app_runtime) == []


async def test_early_failed_outside_window_queues_the_reengagement_template_once(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    async with app_runtime.db_sessions.begin() as db_session:
        template = await templates.create_template(
            db_session,
            owner_id=owner,
            definition={
                "template_name": "reminder",
                "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end"}]},
                "default_params": {"reengagement_template": "we_miss_you"},
            },
        )
    await queue_texts(app_runtime, CUSTOMER, ["too late after all"], template_id=template.id)
    window_error = [{"code": 131047, "title": "Re-engagement message"}]

    async def refused_early(wamid: str) -> None:
        refused = status(wamid, "failed", errors=window_error)
        await deliver_statuses(app_runtime, refused, refused)

    overtake_first_send(graph_stub, refused_early)
    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)
    first_wamid = graph_stub.sent[0].wamid
    assert first_wamid is not None
    # A re-delivery after the settle finds the row already failed: nothing new is queued.
    await deliver_statuses(app_runtime, status(first_wamid, "failed", errors=window_error))

    rows = await outbound(app_runtime, CUSTOMER)
    assert [(row.type, row.status, row.error_code) for row in rows] == [
        ("text", "failed", 131047),
        ("template", "sent", None),  # queued by the status, sent in the same delivery run
    ]
    assert "re-engagement template 'we_miss_you' queued instead" in (rows[0].error_text or "")
    assert [request.json["type"] for request in graph_stub.sent] == ["text", "template"]
    assert await kept_statuses(app_runtime) == []


async def test_status_for_a_wamid_that_never_appears_is_purged_after_its_age(
    app_runtime: Runtime,
) -> None:
    await deliver_statuses(
        app_runtime, status("wamid.NEVER.old", "delivered"), status("wamid.NEVER.new", "read")
    )
    assert await kept_statuses(app_runtime) == [
        ("wamid.NEVER.new", "read"),
        ("wamid.NEVER.old", "delivered"),
    ]
    assert (await app_runtime.sweeper.sweep_once()).purged_statuses == 0

    async with app_runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(PendingStatus)
            .where(PendingStatus.wamid == "wamid.NEVER.old")
            .values(received_at=app_runtime.clock.now() - EARLY_STATUS_TTL - timedelta(minutes=1))
        )
    report = await app_runtime.sweeper.sweep_once()

    assert report.purged_statuses == 1
    assert await kept_statuses(app_runtime) == [("wamid.NEVER.new", "read")]


async def test_statuses_that_cannot_be_ours_are_not_kept(app_runtime: Runtime) -> None:
    await deliver_statuses(
        app_runtime,
        status("wamid." + "x" * 300, "read"),  # longer than any stored wamid
        status("wamid.SOMETHING", "deleted"),  # not a delivery status
    )
    assert await kept_statuses(app_runtime) == []


async def test_a_status_for_a_recorded_wamid_is_applied_not_kept(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    owner = await add_contact(app_runtime, CUSTOMER)
    await queue_texts(app_runtime, CUSTOMER, ["hello"])
    await sender_for(app_runtime).deliver_customer(owner, CUSTOMER)
    [sent] = graph_stub.sent
    assert sent.wamid is not None

    await deliver_statuses(app_runtime, status(sent.wamid, "delivered"))

    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "delivered"
    assert await kept_statuses(app_runtime) == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_webhook_racing_the_settle_waits_for_it_and_applies_directly(
    app_runtime: Runtime,
) -> None:
    """PostgreSQL: the webhook blocks on the wamid's lock while the settle is open."""
    await add_contact(app_runtime, CUSTOMER)
    [row_id] = await queue_texts(app_runtime, CUSTOMER, ["hello"])
    wamid = "wamid.RACE"

    async with app_runtime.db_sessions.begin() as settle:
        await settle.execute(
            update(WhatsAppMessage)
            .where(WhatsAppMessage.id == row_id)
            .values(status="sent", wamid=wamid)
        )
        assert await apply_early_statuses(settle, wamid, now=app_runtime.clock.now()) == 0

        async def webhook_transaction() -> int:
            async with app_runtime.db_sessions.begin() as db_session:
                read = [StatusRecord(wamid, "read")]
                return await apply_webhook_statuses(db_session, read, now=app_runtime.clock.now())

        racing = asyncio.create_task(webhook_transaction())
        await eventually(lambda: _waiting_for_advisory_lock(app_runtime), what="a lock wait")
        assert not racing.done()
    # The settle committed: the webhook now sees the wamid and moves the row itself.
    assert await racing == 1
    [row] = await outbound(app_runtime, CUSTOMER)
    assert row.status == "read"
    assert await kept_statuses(app_runtime) == []


async def _waiting_for_advisory_lock(runtime: Runtime) -> bool:
    async with runtime.engine.connect() as connection:
        waiting = await connection.scalar(
            select(func.count())
            .select_from(text("pg_locks"))
            .where(text("locktype = 'advisory' AND NOT granted"))
        )
    return bool(waiting)
