"""``/api/conversations`` and ``/api/messages``: live states, resets, the message log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from convoflow.channels.terminal.chat import ChatSession
from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from tests.api.admin.conftest import AdminApi, connect_number, error_of
from tests.api.admin.helpers import menu_template
from tests.support.webhooks import change, text, webhook

ANA = "4915550100"
BEN = "4915550200"
ALICE_NUMBER = "15551110000"
ALICE_SECOND_NUMBER = "15551112222"


async def customer_key(api: AdminApi, phone: str, name: str = "Ana") -> ChatSession:
    chat = ChatSession(
        api.runtime.access, api.runtime.processor, owner_name="alice", phone=phone, name=name
    )
    await chat.open()
    return chat


async def shop(api: AdminApi, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/workflow-templates", json=menu_template("shop", **fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_live_conversations_are_listed_filtered_and_read(api: AdminApi) -> None:
    await shop(api)
    await (await customer_key(api, ANA)).say("shop")
    ben = await customer_key(api, BEN, "Ben")
    await ben.say("hi")
    listed = (await api.get("/api/conversations")).json()
    assert (listed["total"], listed["limit"], listed["offset"]) == (2, 50, 0)
    assert {(item["phone_number"], item["conversation_flow"]) for item in listed["items"]} == {
        (ANA, "shop"),
        (BEN, "main_menu"),
    }
    only_shop = (await api.get("/api/conversations", params={"flow": "shop"})).json()
    assert [item["phone_number"] for item in only_shop["items"]] == [ANA]
    at_step = await api.get("/api/conversations", params={"flow": "shop", "step": "nowhere"})
    assert (at_step.json()["items"], at_step.json()["total"]) == ([], 0)
    one = (await api.get(f"/api/conversations/+{ANA}")).json()
    assert (one["current_step"], one["instance_id"] is not None) == ("welcome", True)
    assert (await api.get(f"/api/conversations/{ANA}", user="bob")).status_code == 404
    assert (await api.get("/api/conversations", user="bob")).json()["items"] == []
    assert (await api.get("/api/conversations/4915559999")).status_code == 404


async def on_whatsapp(api: AdminApi, phone_number_id: str, customer_key: str, body: str) -> None:
    """A customer's message to a business number, received and processed as a webhook's."""
    parsed = parse_webhook(
        webhook(change([text(customer_key, body)], phone_number_id=phone_number_id))
    )
    runtime = api.runtime
    received = await receive_webhook(
        runtime.db_sessions, runtime.phone_numbers, parsed, now=runtime.clock.now()
    )
    assert received.unrouted == []
    for owner_id, key in received.customers:
        await api.runtime.processor.process_customer(owner_id, key)


async def test_an_owner_with_two_numbers_sees_each_numbers_conversations_and_messages(
    api: AdminApi,
) -> None:
    await shop(api)
    await connect_number(api, ALICE_NUMBER)
    await connect_number(api, ALICE_SECOND_NUMBER)
    await on_whatsapp(api, ALICE_NUMBER, ANA, "shop")
    await on_whatsapp(api, ALICE_SECOND_NUMBER, BEN, "shop")

    def customers(listed: Any) -> set[str]:
        return {item["phone_number"] for item in listed["items"]}

    conversations = "/api/conversations"
    assert customers((await api.get(conversations)).json()) == {ANA, BEN}
    first = await api.get(conversations, params={"phone_number_id": ALICE_NUMBER})
    second = await api.get(conversations, params={"phone_number_id": ALICE_SECOND_NUMBER})
    assert (customers(first.json()), customers(second.json())) == ({ANA}, {BEN})
    on_first = {"phone_number_id": ALICE_NUMBER}
    assert (await api.get(f"{conversations}/{ANA}", params=on_first)).status_code == 200
    assert (await api.get(f"{conversations}/{BEN}", params=on_first)).status_code == 404
    log = (await api.get("/api/messages", params=on_first)).json()
    assert log["total"] == 2  # Ana's "shop" and the menu sent back from the same number
    assert {(item["customer"], item["phone_number_id"]) for item in log["items"]} == {
        (ANA, ALICE_NUMBER)
    }
    assert (await api.get(conversations, user="bob", params=on_first)).json()["items"] == []
    assert (await api.get("/api/messages", user="bob", params=on_first)).json()["total"] == 0


async def test_the_message_log_shows_both_directions(api: AdminApi) -> None:
    await shop(api)
    await (await customer_key(api, ANA)).say("shop")
    log = (await api.get("/api/messages", params={"phone": ANA})).json()
    assert [(item["direction"], item["type"]) for item in log["items"]] == [
        ("out", "interactive"),
        ("in", "text"),
    ]
    assert log["items"][1]["payload"]["text"]["body"] == "shop"
    inbound = (await api.get("/api/messages", params={"phone": ANA, "direction": "in"})).json()
    assert inbound["total"] == 1
    assert (await api.get("/api/messages", user="bob")).json()["total"] == 0
    assert (await api.get("/api/messages", params={"limit": 0})).status_code == 422


async def test_reset_deletes_the_state_and_cancels_the_instance(api: AdminApi) -> None:
    await shop(api)
    ana = await customer_key(api, ANA)
    await ana.say("shop")
    live = (await api.get(f"/api/conversations/{ANA}")).json()
    reset = await api.delete(f"/api/conversations/{ANA}")
    assert reset.json() == {"phone_number": ANA, "cancelled_instance_id": live["instance_id"]}
    assert (await api.get(f"/api/conversations/{ANA}")).status_code == 404
    instance = (await api.get(f"/api/workflows/{live['instance_id']}")).json()
    assert instance["status"] == "cancelled"
    assert (await api.delete(f"/api/conversations/{ANA}")).status_code == 404
    replies = await ana.say("Tea")
    assert replies == []  # a fresh start: "Tea" is no trigger


async def test_an_instance_can_start_a_whatsapp_conversation(api: AdminApi) -> None:
    template = await shop(api)
    await connect_number(api, ALICE_NUMBER)
    started = await api.post(
        "/api/workflows",
        json={"template_id": template["id"], "conversation_id": ANA, "start_conversation": True},
    )
    assert started.status_code == 201, started.text
    instance = started.json()
    assert (instance["conversation_id"], instance["current_step"]) == (ANA, "welcome")
    live = (await api.get(f"/api/conversations/{ANA}")).json()
    assert live["instance_id"] == instance["id"]
    outbound = (await api.get("/api/messages", params={"phone": ANA, "direction": "out"})).json()
    assert outbound["items"][0]["payload"]["interactive"]["body"]["text"] == "Pick one"
    assert outbound["items"][0]["phone_number_id"] == ALICE_NUMBER  # her own, not the server's
    no_customer = await api.post(
        "/api/workflows", json={"template_id": template["id"], "start_conversation": True}
    )
    assert no_customer.status_code == 422
    cancelled = await api.put(f"/api/workflows/{instance['id']}", json={"status": "cancelled"})
    assert cancelled.json()["status"] == "cancelled"
    assert (await api.get(f"/api/conversations/{ANA}")).status_code == 404


async def test_without_a_number_of_your_own_no_whatsapp_conversation_starts(
    api: AdminApi,
) -> None:
    template = await shop(api)

    refused = await api.post(
        "/api/workflows",
        json={"template_id": template["id"], "conversation_id": ANA, "start_conversation": True},
    )

    assert refused.status_code == 409
    assert "POST /api/phone-numbers" in error_of(refused)["message"]
    assert (await api.get(f"/api/conversations/{ANA}")).status_code == 404
    assert (await api.get("/api/messages")).json()["total"] == 0
    assert (await api.get("/api/workflows")).json()["total"] == 0


def waiting_template() -> dict[str, Any]:
    return {
        "name": "loan_check",
        "trigger_keywords": ["check"],
        "menu_structure": {
            "start": "kyc",
            "steps": [
                {
                    "id": "kyc",
                    "type": "http",
                    "method": "POST",
                    "url": "http://127.0.0.1:9/kyc",
                    "save_as": "kyc",
                    "max_attempts": 10,
                    "next": "done",
                    "on_failure": "sorry",
                },
                {"id": "done", "type": "end", "text": "Approved, {{kyc.level}}!"},
                {"id": "sorry", "type": "end", "text": "We could not check you."},
            ],
        },
    }


async def test_an_outside_system_resolves_a_conversation_waiting_at_an_http_step(
    api: AdminApi,
) -> None:
    created = await api.post("/api/workflow-templates", json=waiting_template())
    assert created.status_code == 201, created.text
    await (await customer_key(api, ANA)).say("check")
    live = (await api.get(f"/api/conversations/{ANA}")).json()
    instance = (await api.get(f"/api/workflows/{live['instance_id']}")).json()
    assert instance["status"] == "waiting" and instance["waiting_for"].startswith("kyc#")
    resolved = await api.post(
        f"/api/workflows/{instance['id']}/dependencies/kyc",
        json={"ok": True, "data": {"level": "gold"}},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "completed"
    log = (await api.get("/api/messages", params={"phone": ANA, "direction": "out"})).json()
    assert log["items"][0]["payload"]["text"]["body"] == "Approved, gold!"
    assert (await api.get(f"/api/conversations/{ANA}")).status_code == 404


async def test_release_gives_a_handed_off_conversation_back_to_the_bot(api: AdminApi) -> None:
    ana = await customer_key(api, ANA)
    await ana.say("help")
    handed = await ana.say("Talk to a person")
    assert "member of our team" in handed[0].body["text"]["body"]
    assert await ana.say("hello") == []  # the bot stays quiet while an agent talks
    not_handed = await (await customer_key(api, BEN, "Ben")).say("hi")
    assert not_handed
    assert (await api.post(f"/api/conversations/{BEN}/release")).status_code == 409
    assert (await api.post(f"/api/conversations/{ANA}/release", user="bob")).status_code == 404
    released = await api.post(f"/api/conversations/{ANA}/release")
    assert released.status_code == 200, released.text
    assert released.json() == {"phone_number": ANA, "status": "completed", "current_step": None}
    log = (await api.get("/api/messages", params={"phone": ANA, "direction": "out"})).json()
    assert "Thanks for talking to us" in log["items"][0]["payload"]["text"]["body"]
    assert (await api.get(f"/api/conversations/{ANA}")).status_code == 404


async def test_a_conversation_shows_when_its_waiting_step_times_out(api: AdminApi) -> None:
    document = menu_template("timed")
    document["menu_structure"]["steps"][0].update(timeout="2h", on_timeout="done")
    await shop(api, **document)
    await (await customer_key(api, ANA)).say("timed")
    one = (await api.get(f"/api/conversations/{ANA}")).json()
    due = datetime.fromisoformat(one["timer_due_at"])
    assert due - datetime.fromisoformat(one["last_interaction"]) == timedelta(hours=2)
    assert one["context"]["timer"]["step_id"] == "welcome"
    await shop(api, template_name="plain", trigger_keywords=["plain"])
    await (await customer_key(api, BEN, "Ben")).say("plain")
    assert (await api.get(f"/api/conversations/{BEN}")).json()["timer_due_at"] is None
