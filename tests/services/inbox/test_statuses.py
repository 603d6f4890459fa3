"""Delivery statuses from webhooks move outbound rows forward, and 131047 re-engages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from convoflow.runtime import Runtime
from convoflow.services.inbox.intake import StatusRecord, apply_statuses
from convoflow.store import accounts, templates
from convoflow.store.models import Contact, WhatsAppMessage
from convoflow.store.types import utcnow

CUSTOMER = "4915550300"


async def sent_message(runtime: Runtime, *, reengagement: str | None) -> str:
    async with runtime.db_sessions.begin() as db_session:
        owner = await accounts.create_user(db_session, username="shop")
        db_session.add(
            Contact(
                owner_id=owner.id,
                customer_key=CUSTOMER,
                wa_id=CUSTOMER,
                last_inbound_at=utcnow() - timedelta(hours=30),
            )
        )
        params = {"reengagement_template": reengagement} if reengagement else {}
        template = await templates.create_template(
            db_session,
            owner_id=owner.id,
            definition={
                "template_name": "notify",
                "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end"}]},
                "default_params": params,
            },
        )
        db_session.add(
            WhatsAppMessage(
                owner_id=owner.id,
                phone_number_id="pn",
                customer_key=CUSTOMER,
                direction="out",
                wamid="wamid.late",
                type="text",
                payload={"type": "text", "text": {"body": "late"}},
                status="sent",
                template_id=template.id,
            )
        )
    return "wamid.late"


async def outbound(runtime: Runtime) -> list[WhatsAppMessage]:
    async with runtime.db_sessions() as db_session:
        rows = await db_session.execute(
            select(WhatsAppMessage)
            .where(WhatsAppMessage.direction == "out")
            .order_by(WhatsAppMessage.id)
        )
        return list(rows.scalars())


async def test_failed_status_outside_window_queues_reengagement_once(runtime: Runtime) -> None:
    wamid = await sent_message(runtime, reengagement="we_miss_you")
    failed = StatusRecord(wamid, "failed", 131047, "Re-engagement message")
    async with runtime.db_sessions.begin() as db_session:
        assert await apply_statuses(db_session, [failed], now=utcnow()) == 1
    async with runtime.db_sessions.begin() as db_session:
        assert (
            await apply_statuses(db_session, [failed], now=utcnow()) == 0
        )  # a re-delivery changes nothing
    rows = await outbound(runtime)
    assert [(row.type, row.status) for row in rows] == [("text", "failed"), ("template", "queued")]
    assert rows[0].error_code == 131047
    assert "re-engagement template 'we_miss_you' queued instead" in (rows[0].error_text or "")
    assert rows[1].payload["template"]["name"] == "we_miss_you"


async def test_failed_status_without_reengagement_template_only_fails(runtime: Runtime) -> None:
    wamid = await sent_message(runtime, reengagement=None)
    async with runtime.db_sessions.begin() as db_session:
        await apply_statuses(
            db_session, [StatusRecord(wamid, "failed", 131047, "window")], now=utcnow()
        )
    [row] = await outbound(runtime)
    assert row.status == "failed" and "names no reengagement_template" in (row.error_text or "")


async def test_statuses_only_move_forward(runtime: Runtime) -> None:
    wamid = await sent_message(runtime, reengagement=None)
    async with runtime.db_sessions.begin() as db_session:
        await apply_statuses(db_session, [StatusRecord(wamid, "read")], now=utcnow())
        await apply_statuses(db_session, [StatusRecord(wamid, "delivered")], now=utcnow())
        await apply_statuses(db_session, [StatusRecord(wamid, "sent")], now=utcnow())
    [row] = await outbound(runtime)
    assert row.status == "read"
