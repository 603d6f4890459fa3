"""``/api/simulator/sessions``: a test customer on the real message path, never on WhatsApp."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from convoflow.store.models import Contact, WhatsAppMessage, WorkflowEffect, WorkflowInstance
from tests.api.admin.conftest import AdminApi, connect_number, error_of
from tests.api.admin.helpers import menu_template
from tests.api.admin.test_conversations import on_whatsapp
from tests.support.graph_stub import GraphStub

SESSIONS = "/api/simulator/sessions"
TEMPLATES = "/api/workflow-templates"
ALICE_NUMBER = "15551110000"


async def builtin(api: AdminApi, name: str) -> dict[str, Any]:
    listed = (await api.get(TEMPLATES, params={"q": name})).json()["items"]
    found: dict[str, Any] = next(item for item in listed if item["template_name"] == name)
    return found


async def open_session(api: AdminApi, template_id: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(SESSIONS, json={"template_id": template_id, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def send(api: AdminApi, session_id: str, **message: str) -> dict[str, Any]:
    response = await api.post(f"{SESSIONS}/{session_id}/messages", json=message)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(api: AdminApi, model: Any, *conditions: Any) -> int:
    async with api.runtime.db_sessions() as db_session:
        found = await db_session.scalar(select(func.count()).select_from(model).where(*conditions))
    return int(found or 0)


async def test_a_builtin_flow_runs_to_its_end_with_buttons_list_rows_and_text(
    api: AdminApi, graph_stub: GraphStub
) -> None:
    menu = await builtin(api, "main_menu")
    order = await builtin(api, "new_order")
    opened = await open_session(api, menu["id"])
    assert (opened["step"], opened["finished"], opened["status"]) == ("welcome", False, "active")
    assert opened["use_draft"] is False  # a built-in has no draft of yours
    (greeting,) = opened["messages"]
    assert greeting["kind"] == "buttons"
    assert greeting["step"] == "welcome"
    assert greeting["text"].startswith("Hi Test customer!")
    assert greeting["footer"] == 'Send "stop" at any time to end.'
    assert [b["id"] for b in greeting["buttons"]] == ["new_order", "support", "account"]
    assert greeting["payload"]["type"] == "interactive"

    listed = await send(api, opened["id"], reply_id="new_order")
    assert (listed["template_name"], listed["step"]) == ("new_order", "pick_product")
    (products,) = listed["messages"]
    assert (products["kind"], products["button"], products["header"]) == (
        "list",
        "See products",
        "Our menu",
    )
    assert [section["title"] for section in products["sections"]] == ["Coffee", "Bakery"]
    assert products["sections"][0]["rows"][1] == {
        "id": "cappuccino",
        "title": "Cappuccino",
        "description": "Espresso with foamed milk, 3.20",
    }

    asked = await send(api, opened["id"], reply_id="cappuccino")
    assert asked["step"] == "quantity"
    assert asked["messages"][0]["text"] == "How many Cappuccino would you like? (1 to 20)"
    retry = await send(api, opened["id"], text="lots")
    assert (retry["step"], retry["messages"][0]["kind"]) == ("quantity", "text")
    confirm = await send(api, opened["id"], text="2")
    assert confirm["step"] == "confirm"
    assert confirm["messages"][0]["text"] == "Please confirm your order: 2 × Cappuccino."
    done = await send(api, opened["id"], reply_id="confirm")
    assert (done["finished"], done["step"], done["status"]) == (True, None, "completed")
    assert done["messages"][0]["text"].startswith("Thank you! Your order of 2 × Cappuccino")
    assert done["visited"] == ["pick_product", "quantity", "confirm", "done"]

    # Left out of the statistics and of the lists; nothing went to WhatsApp.
    for template in (menu, order):
        stats = (await api.get(f"/api/stats/templates/{template['id']}")).json()
        assert (stats["usage_count"], stats["runs"]) == (0, 0)
        assert (await api.get(f"{TEMPLATES}/{template['id']}")).json()["last_used_at"] is None
    assert (await api.get("/api/messages")).json()["total"] == 0
    log = (await api.get("/api/messages", params={"include_simulated": "true"})).json()
    assert log["total"] == 12  # 5 taps and texts in, 7 messages out
    assert {item["phone_number_id"] for item in log["items"]} == {"simulator"}
    outbound = [item for item in log["items"] if item["direction"] == "out"]
    assert {item["status"] for item in outbound} == {"sent"}  # shown: delivered locally

    # The sender, asked to deliver the test customer's messages, sends nothing; a real
    # customer's reply, asked for afterwards, is the first the Graph API sees.
    alice = (await api.get("/api/me")).json()["id"]
    await api.runtime.jobs.deliver_outbox(alice, f"sim:{opened['id']}")
    graph_stub.accept_token(ALICE_NUMBER, f"token-of-{ALICE_NUMBER}")
    await connect_number(api, ALICE_NUMBER)
    await on_whatsapp(api, ALICE_NUMBER, "4915550100", "hi")
    await api.runtime.jobs.deliver_outbox(alice, "4915550100")
    sent = await graph_stub.wait_for_async(1, timeout=30)
    assert [request.to for request in sent] == ["+4915550100"]
    assert len(graph_stub.requests) == 1


async def test_the_draft_runs_in_the_simulator_and_the_published_version_for_customers(
    api: AdminApi,
) -> None:
    template = await api.post(TEMPLATES, json=menu_template("shop"))
    shop = template.json()
    draft = copy.deepcopy(menu_template("shop"))
    draft["menu_structure"]["steps"][0]["text"] = "Pick a drink"
    draft["menu_structure"]["steps"][0]["position"] = {"x": 1, "y": 1}
    assert (await api.put(f"{TEMPLATES}/{shop['id']}/draft", json=draft)).json()["valid"]

    on_draft = await open_session(api, shop["id"])
    assert on_draft["use_draft"] is True
    assert on_draft["template_id"] != shop["id"]
    assert on_draft["family_id"] == shop["family_id"]
    assert on_draft["messages"][0]["text"] == "Pick a drink"
    again = await open_session(api, shop["id"], use_draft=True)
    assert again["template_id"] == on_draft["template_id"]  # the same draft: one snapshot
    published = await open_session(api, shop["id"], use_draft=False)
    assert (published["use_draft"], published["template_id"]) == (False, shop["id"])
    assert published["messages"][0]["text"] == "Pick one"
    ended = await send(api, on_draft["id"], reply_id="tea")
    assert (ended["finished"], ended["visited"]) == (True, ["welcome", "done"])

    # The draft's snapshot is no template of the lists, and no customer starts it.
    names = [item["template_name"] for item in (await api.get(TEMPLATES)).json()["items"]]
    assert names.count("shop") == 1
    assert (await api.get(f"{TEMPLATES}/{shop['id']}/versions")).json()["total"] == 1
    listed = (await api.get("/api/conversations", params={"include_simulated": "true"})).json()
    assert listed["total"] == 2  # the two sessions still waiting at the menu
    assert (await api.get("/api/conversations")).json()["total"] == 0
    assert (await api.get("/api/contacts")).json()["total"] == 0  # test customers are none

    draft["menu_structure"]["steps"][1]["next"] = "nowhere"
    assert (await api.put(f"{TEMPLATES}/{shop['id']}/draft", json=draft)).json()["valid"] is False
    refused = await api.post(SESSIONS, json={"template_id": shop["id"]})
    assert refused.status_code == 422
    assert error_of(refused)["details"][0]["field"] == "menu_structure.steps.done.next"


async def test_a_reset_removes_the_test_customer_and_the_session(api: AdminApi) -> None:
    shop = (await api.post(TEMPLATES, json=menu_template("shop"))).json()
    opened = await open_session(api, shop["id"])
    key = f"sim:{opened['id']}"
    assert await count(api, WhatsAppMessage, WhatsAppMessage.customer_key == key) == 1
    deleted = await api.delete(f"{SESSIONS}/{opened['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": opened["id"], "action": "deleted"}
    for model, column in (
        (WhatsAppMessage, WhatsAppMessage.customer_key),
        (WorkflowInstance, WorkflowInstance.user_id),
        (Contact, Contact.customer_key),
    ):
        assert await count(api, model, column == key) == 0
    gone = await api.post(f"{SESSIONS}/{opened['id']}/messages", json={"text": "hi"})
    assert gone.status_code == 404
    assert (await api.get(f"{SESSIONS}/{opened['id']}")).status_code == 404
    fresh = await open_session(api, shop["id"])
    assert (fresh["step"], fresh["messages"][0]["kind"]) == ("welcome", "buttons")


async def test_sessions_and_templates_follow_the_permissions(api: AdminApi) -> None:
    shop = (await api.post(TEMPLATES, json=menu_template("shop"))).json()
    hidden = await api.post(SESSIONS, json={"template_id": shop["id"]}, user="bob")
    assert hidden.status_code == 404
    opened = await open_session(api, shop["id"])
    for method, path, body in (
        ("GET", "", None),
        ("POST", "/messages", {"text": "hi"}),
        ("DELETE", "", None),
    ):
        response = await api.call(method, f"{SESSIONS}/{opened['id']}{path}", user="bob", json=body)
        assert response.status_code == 404, (method, path)
    assert (await api.get(f"{SESSIONS}/{opened['id']}")).status_code == 200

    vip = await api.post("/api/user-types", json={"name": "vip"})
    assert vip.status_code == 201, vip.text
    granted = await api.post(
        "/api/permissions",
        json={"user_type_id": vip.json()["id"], "workflow_template_id": shop["id"]},
    )
    assert granted.status_code == 201, granted.text
    refused = await api.post(SESSIONS, json={"template_id": shop["id"]})
    assert refused.status_code == 403
    assert "customers without a type" in error_of(refused)["message"]
    as_vip = await open_session(api, shop["id"], user_type="vip")
    assert (as_vip["user_type"], as_vip["step"]) == ("vip", "welcome")
    unknown = await api.post(SESSIONS, json={"template_id": shop["id"], "user_type": "gold"})
    assert unknown.status_code == 422
    assert error_of(unknown)["details"][0]["field"] == "user_type"


async def test_bad_messages_are_refused_naming_the_field(api: AdminApi) -> None:
    shop = (await api.post(TEMPLATES, json=menu_template("shop"))).json()
    opened = await open_session(api, shop["id"])
    url = f"{SESSIONS}/{opened['id']}/messages"
    both = await api.post(url, json={"text": "x", "reply_id": "tea"})
    assert both.status_code == 422
    assert error_of(both)["details"][0]["message"] == "send either text or reply_id"
    wrong = await api.post(url, json={"reply_id": "milk"})
    assert wrong.status_code == 422
    detail = error_of(wrong)["details"][0]
    assert detail["field"] == "reply_id" and "tea" in detail["message"]
    looked = (await api.get(f"{SESSIONS}/{opened['id']}")).json()
    assert (looked["step"], looked["messages"]) == ("welcome", [])  # nothing new


async def test_a_simulated_run_does_not_call_the_end_action(api: AdminApi) -> None:
    document = menu_template(
        "shop",
        end_action_type="api_call",
        end_action_target={"endpoint": "https://crm.example.com/orders"},
    )
    shop = (await api.post(TEMPLATES, json=document)).json()
    opened = await open_session(api, shop["id"])
    ended = await send(api, opened["id"], reply_id="coffee")
    assert ended["status"] == "completed"
    assert await count(api, WorkflowEffect) == 0
