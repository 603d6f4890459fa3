"""``GET /api/events``: the inbox hears of messages, ticks and handoffs as they happen."""

from __future__ import annotations

from convoflow.services.access import setup
from tests.support.graph_stub import GraphStub
from tests.support.inbox import admin_headers, replies
from tests.support.sse import events_of, serving
from tests.support.webhooks import WebhookClient, change, list_reply, status, text, webhook

ANA = "4915550400"
BEN = "4915550500"
BOB_NUMBER = "15557770000"


async def test_a_webhook_reaches_the_event_stream(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    headers = await admin_headers(whatsapp)
    async with serving(whatsapp.app) as base_url, events_of(base_url, headers) as stream:
        await whatsapp.send(text(ANA, "help"))
        inbound = await stream.until("message", customer=ANA, direction="in")
        outbound = await stream.until("message", customer=ANA, direction="out")
        assert outbound.data["id"] > inbound.data["id"]
        step = await stream.until("conversation", customer=ANA, event="step")
        assert (step.data["template"], step.data["step"]) == ("support", "topics")
        sent = await stream.until("status", customer=ANA, id=outbound.data["id"])
        assert sent.data["status"] == "sent"

        [menu] = await replies(graph_stub, ANA, 1)
        assert menu.wamid is not None
        await whatsapp.post(webhook(change([], statuses=[status(menu.wamid, "read")])))
        await stream.until("status", customer=ANA, id=outbound.data["id"], status="read")

        await whatsapp.send(list_reply(ANA, "agent", "Talk to a person"))
        handoff = await stream.until("conversation", customer=ANA, event="handoff")
        assert handoff.data["reason"] == "handoff step 'human'"


async def test_the_stream_shows_only_the_callers_conversations(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    admin = await admin_headers(whatsapp)
    bob_key = await setup.create_user_with_key(whatsapp.runtime.db_sessions, username="bob")
    bob = {"Authorization": f"Bearer {bob_key}"}
    registered = await whatsapp.http.post(
        "/api/phone-numbers",
        headers=bob,
        json={"phone_number_id": BOB_NUMBER, "access_token_env": "BOB_WHATSAPP_TOKEN"},
    )
    assert registered.status_code == 201, registered.text
    async with (
        serving(whatsapp.app) as base_url,
        events_of(base_url, bob) as bobs,
        events_of(base_url, admin) as admins,
    ):
        await whatsapp.send(text(ANA, "hi"))
        await admins.until("message", customer=ANA, direction="out")
        # Published before anything of Bob's: had it leaked, it would come first.
        await whatsapp.post(webhook(change([text(BEN, "hi")], phone_number_id=BOB_NUMBER)))
        first = await bobs.next_event()
        assert (first.kind, first.data["customer"]) == ("message", BEN)
    unauthenticated = await whatsapp.http.get("/api/events")
    assert unauthenticated.status_code == 401
