"""The inbox: a handed-off customer talks to a person, who answers through the outbox and
gives the conversation back to the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from convoflow.clock import FakeClock
from convoflow.store.models import Handoff, WhatsAppMessage, WorkflowInstance
from tests.support.graph_stub import GraphStub
from tests.support.inbox import admin_headers, api_json, replies, sent_to, settled
from tests.support.webhooks import WebhookClient, clean_app, list_reply, text

ANA = "4915550300"


async def hand_off(whatsapp: WebhookClient, stub: GraphStub, customer: str) -> None:
    """The customer asks the built-in support for a person."""
    await whatsapp.send(text(customer, "help"))
    await replies(stub, customer, 1)
    await whatsapp.send(list_reply(customer, "agent", "Talk to a person"))
    [_, handed] = await replies(stub, customer, 2)
    assert "member of our team" in (handed.text or "")


async def test_a_person_answers_a_handed_off_customer_then_releases_them(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    headers = await admin_headers(whatsapp)
    await hand_off(whatsapp, graph_stub, ANA)

    listed = await api_json(whatsapp, "GET", "/api/conversations?status=handoff", headers)
    [conversation] = listed["items"]
    assert (conversation["phone_number"], conversation["status"]) == (ANA, "handoff")
    assert conversation["handoff"]["reason"] == "handoff step 'human'"
    assert conversation["handoff"]["step"] == "human"
    active = await api_json(whatsapp, "GET", "/api/conversations?status=active", headers)
    assert active["items"] == []
    instance = await api_json(
        whatsapp, "GET", f"/api/workflows/{conversation['instance_id']}", headers
    )
    assert (instance["status"], instance["waiting_for"]) == ("waiting", "agent")

    # The bot stays silent: the message is stored and processed, nothing is answered.
    await whatsapp.send(text(ANA, "menu"))
    await settled(whatsapp)
    assert len(sent_to(graph_stub, ANA)) == 2
    history = await api_json(whatsapp, "GET", f"/api/conversations/{ANA}/messages", headers)
    assert history["items"][0]["direction"] == "in"
    assert history["items"][0]["payload"]["text"]["body"] == "menu"
    assert history["items"][0]["status"] == "processed"

    reply = await api_json(
        whatsapp,
        "POST",
        f"/api/conversations/{ANA}/messages",
        headers,
        json={"text": "Hi, Sam here. How can I help?"},
    )
    assert (reply["direction"], reply["status"], reply["type"]) == ("out", "queued", "text")
    assert reply["agent_id"] is not None
    [*_, answered] = await replies(graph_stub, ANA, 3)
    assert answered.text == "Hi, Sam here. How can I help?"
    await settled(whatsapp)
    history = await api_json(whatsapp, "GET", f"/api/conversations/{ANA}/messages", headers)
    newest = history["items"][0]
    assert (newest["id"], newest["status"], newest["agent_id"]) == (
        reply["id"],
        "sent",
        reply["agent_id"],
    )

    released = await api_json(whatsapp, "POST", f"/api/conversations/{ANA}/release", headers)
    assert released == {"phone_number": ANA, "status": "completed", "current_step": None}
    [*_, thanks] = await replies(graph_stub, ANA, 4)
    assert "Thanks for talking to us" in (thanks.text or "")
    async with whatsapp.runtime.db_sessions() as db_session:
        [handoff] = (await db_session.scalars(select(Handoff))).all()
        run = await db_session.get(WorkflowInstance, conversation["instance_id"])
    assert (handoff.released_by, handoff.agent_id) == ("agent", reply["agent_id"])
    assert handoff.released_at is not None and run is not None and run.status == "completed"

    # Back with the bot: the next message runs the engine again.
    await whatsapp.send(text(ANA, "help"))
    [*_, menu] = await replies(graph_stub, ANA, 5)
    assert menu.json["type"] == "interactive"
    refused = await whatsapp.http.post(
        f"/api/conversations/{ANA}/messages", headers=headers, json={"text": "still there?"}
    )
    assert refused.status_code == 409, refused.text
    assert "not handed off" in refused.json()["error"]["message"]


async def test_a_reply_outside_the_24_hour_window_is_refused(
    database_url: str, graph_stub: GraphStub
) -> None:
    clock = FakeClock(datetime.now(UTC))  # webhooks carry today's timestamps
    async with clean_app(database_url, graph_stub, clock=clock) as whatsapp:
        headers = await admin_headers(whatsapp)
        await hand_off(whatsapp, graph_stub, ANA)
        await settled(whatsapp)
        clock.advance(hours=25)
        refused = await whatsapp.http.post(
            f"/api/conversations/{ANA}/messages", headers=headers, json={"text": "Sorry!"}
        )
        assert refused.status_code == 409, refused.text
        assert "approved template" in refused.json()["error"]["message"]
        # Still handed off: a late customer keeps their person (conversations of a handoff
        # live 30 days), and nothing was queued.
        listed = await api_json(whatsapp, "GET", "/api/conversations?status=handoff", headers)
        assert [item["phone_number"] for item in listed["items"]] == [ANA]
        async with whatsapp.runtime.db_sessions() as db_session:
            queued = await db_session.scalars(
                select(WhatsAppMessage).where(WhatsAppMessage.agent_id.is_not(None))
            )
            assert queued.all() == []
        clock.advance(timedelta(days=2).total_seconds())
        assert (await whatsapp.http.get(f"/api/conversations/{ANA}", headers=headers)).json()[
            "status"
        ] == "handoff"
