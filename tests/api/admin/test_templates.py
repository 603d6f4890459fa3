"""``/api/workflow-templates``: create in every format, versions, access rules, delete, forks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from convoflow.engine.events import ChoiceReceived, TextReceived
from convoflow.services.conversations.service import Customer
from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, greeting, loan_template, menu_template

BASE = "/api/workflow-templates"


async def create(api: AdminApi, document: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    response = await api.post(BASE, user=user, json=document)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_call_needs_a_valid_api_key(api: AdminApi) -> None:
    missing = await api.get(BASE, user=None)
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await api.client.get(BASE, headers={"Authorization": "Bearer cfk_not-a-key"})
    assert wrong.status_code == 401
    me = await api.get("/api/me", user="bob")
    assert me.json()["username"] == "bob"


async def test_native_template_is_created_with_all_fields(api: AdminApi) -> None:
    body = await create(api, loan_template(guidelines="Be kind", session_ttl_seconds=3600))
    assert body["template_name"] == "loan_application"
    assert body["version"] == 1 and body["is_latest"] and body["is_active"]
    assert body["category"] == "fintech"
    assert body["trigger_keywords"] == ["loan", "apply"]
    assert body["state_schema"]["amount"]["type"] == "number"
    assert body["guidelines"] == "Be kind"
    assert body["session_ttl_seconds"] == 3600
    assert body["is_public"] is False and body["is_builtin"] is False
    fetched = await api.get(f"{BASE}/{body['id']}")
    assert fetched.json() == body


async def test_duplicate_name_is_a_conflict(api: AdminApi) -> None:
    await create(api, greeting())
    again = await api.post(BASE, json=greeting(text="Other"))
    assert again.status_code == 409
    assert error_of(again)["code"] == "conflict"
    other_owner = await api.post(BASE, user="bob", json=greeting())
    assert other_owner.status_code == 201


async def test_flow_runner_body_is_imported_and_named_from_the_flow(api: AdminApi) -> None:
    body = await create(api, copy.deepcopy(FLOW_RUNNER_FLOW))
    assert body["template_name"] == "shop_flow"
    assert body["trigger_keywords"] == ["shop", "store"]
    steps = {step["id"]: step for step in body["menu_structure"]["steps"]}
    assert steps["welcome"]["type"] == "buttons"
    assert steps["photo"] == {
        "id": "photo",
        "type": "image",
        "url": "https://cdn.example.com/p.png",
        "caption": "Our shop",
        "next": "promo",
        "position": {"x": 300, "y": 40},
    }


async def test_flow_runner_and_interactive_graphs_inside_menu_structure(api: AdminApi) -> None:
    inactive = {**copy.deepcopy(FLOW_RUNNER_FLOW), "status": "INACTIVE"}
    flow = await create(api, {"template_name": "fr", "menu_structure": inactive})
    assert flow["is_active"] is False
    assert flow["trigger_keywords"] == ["shop", "store"]
    interactive = {
        "type": "button",
        "body": {"text": "Choose"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
    }
    menu = await create(api, {"name": "yes_no", "menu_structure": interactive})
    assert menu["template_type"] == "button"
    assert menu["menu_structure"]["steps"][0]["buttons"] == [{"id": "y", "label": "Yes"}]


async def test_invalid_template_lists_every_problem_with_step_and_field(api: AdminApi) -> None:
    document = menu_template()
    steps = document["menu_structure"]["steps"]
    steps[0]["buttons"] = [
        {"id": f"b{n}", "label": f"Option number {n} is long", "next": "done"} for n in range(4)
    ]
    steps[1]["next"] = "nowhere"
    document["workflow_dependencies"] = [
        {"name": "kyc", "url": "ftp://x"},
        {"name": "bank", "url": "https://bank.example/check", "on_failure": "goto:x"},
    ]
    response = await api.post(BASE, json=document)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    where = {(detail["step"], detail["field"]) for detail in error["details"]}
    assert ("done", "menu_structure.steps.done.next") in where
    assert any(
        step == "welcome" and field.startswith("menu_structure.steps.welcome.buttons")
        for step, field in where
    )
    assert ("", "workflow_dependencies[0].url") in where
    assert ("x", "workflow_dependencies[1].on_failure") in where
    listed = await api.get(BASE, params={"mine": True})
    assert listed.json()["total"] == 0


async def test_bad_step_timers_are_422_naming_step_and_field(api: AdminApi) -> None:
    document = menu_template()
    steps = document["menu_structure"]["steps"]
    steps[0].update(timeout="soon")
    steps.append({"id": "ask", "type": "ask", "field": "x", "prompt": "?", "on_timeout": "gone"})
    steps[0]["buttons"][0]["next"] = "ask"
    response = await api.post(BASE, json=document)
    assert response.status_code == 422
    where = {(d["step"], d["field"]): d["message"] for d in error_of(response)["details"]}
    welcome, ask = "menu_structure.steps.welcome", "menu_structure.steps.ask"
    assert where[("welcome", f"{welcome}.timeout")].startswith("'soon' is not a duration")
    assert where[("ask", f"{ask}.on_timeout")] == "points to unknown step 'gone'"
    assert where[("ask", f"{ask}.timeout")].startswith("required when on_timeout is set")
    assert (await api.get(BASE, params={"mine": True})).json()["total"] == 0


async def test_missing_name_and_bad_request_bodies_are_422(api: AdminApi) -> None:
    no_name = await api.post(BASE, json={"menu_structure": greeting()["menu_structure"]})
    assert no_name.status_code == 422
    assert error_of(no_name)["details"][0]["field"] == "template_name"
    malformed = await api.post(
        BASE, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert error_of(malformed)["code"] == "validation_error"
    wrong_type = await api.post(BASE, json={**greeting(), "template_type": "carousel"})
    assert error_of(wrong_type)["details"][0]["field"] == "template_type"
    bad_end = await api.post(BASE, json={**greeting(), "end_action_type": "api_call"})
    assert error_of(bad_end)["details"][0]["field"] == "end_action_target.endpoint"


async def test_list_filters_sorts_and_pages(api: AdminApi) -> None:
    await create(api, loan_template())
    await create(
        api, greeting("faq", description="Frequently asked", category="support", tags=["x"])
    )
    await create(api, menu_template("shop", is_public=True, workflow_type="rag"))
    mine = (await api.get(BASE, params={"mine": True})).json()
    assert mine["total"] == 3
    everything = (await api.get(BASE, params={"limit": 100})).json()
    assert everything["total"] == 3 + 5  # the five built-ins are visible too

    async def names(**params: Any) -> list[str]:
        response = await api.get(BASE, params={"mine": True, **params})
        assert response.status_code == 200, response.text
        return [item["template_name"] for item in response.json()["items"]]

    assert await names(category="fintech") == ["loan_application"]
    assert await names(workflow_type="rag") == ["shop"]
    assert await names(template_type="text") == ["faq"]
    assert await names(is_public=True) == ["shop"]
    assert await names(tag="loans") == ["loan_application"]
    assert await names(q="ASKED") == ["faq"]
    assert await names(q="%") == []
    assert await names(sort="name", order="asc") == ["faq", "loan_application", "shop"]
    page = (
        await api.get(BASE, params={"mine": True, "sort": "name", "limit": 1, "offset": 1})
    ).json()
    assert [item["template_name"] for item in page["items"]] == ["loan_application"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    bad = await api.get(BASE, params={"sort": "colour"})
    assert bad.status_code == 422


async def test_another_owners_private_template_does_not_exist_for_you(api: AdminApi) -> None:
    private = await create(api, greeting("secret"))
    for method in ("GET", "PUT", "DELETE"):
        response = await api.call(
            method, f"{BASE}/{private['id']}", user="bob", json=greeting("secret")
        )
        assert response.status_code == 404, method
        assert error_of(response)["code"] == "not_found"
    for suffix in ("versions", "lineage"):
        assert (await api.get(f"{BASE}/{private['id']}/{suffix}", user="bob")).status_code == 404
    assert (await api.post(f"{BASE}/{private['id']}/fork", user="bob")).status_code == 404
    listed = (await api.get(BASE, user="bob", params={"q": "secret"})).json()
    assert listed["total"] == 0


async def test_public_and_builtin_templates_are_visible_but_not_yours(api: AdminApi) -> None:
    public = await create(api, greeting("shared", is_public=True))
    assert (await api.get(f"{BASE}/{public['id']}", user="bob")).status_code == 200
    change = await api.put(f"{BASE}/{public['id']}", user="bob", json={"description": "mine"})
    assert change.status_code == 403
    assert error_of(change)["code"] == "forbidden"
    builtins = (await api.get(BASE, user="bob", params={"q": "main_menu"})).json()["items"]
    assert builtins[0]["is_builtin"] is True
    delete = await api.delete(f"{BASE}/{builtins[0]['id']}", user="bob")
    assert delete.status_code == 403
    by_owner = await api.put(
        f"{BASE}/{builtins[0]['id']}", user="admin", json={"description": "Our menu"}
    )
    assert by_owner.status_code == 200 and by_owner.json()["version"] == 2


async def test_put_writes_a_new_version_and_unchanged_keeps_it(api: AdminApi) -> None:
    first = await create(api, greeting(changelog="first"))
    updated = await api.put(
        f"{BASE}/{first['id']}", json={"description": "Says hello", "changelog": "describe it"}
    )
    assert updated.status_code == 200
    second = updated.json()
    assert updated.headers["x-convoflow-save"] == "updated"
    assert (second["version"], second["family_id"], second["changelog"]) == (
        2,
        first["id"],
        "describe it",
    )
    assert second["menu_structure"] == first["menu_structure"]
    same = await api.put(f"{BASE}/{first['id']}", json={"description": "Says hello"})
    assert same.headers["x-convoflow-save"] == "unchanged"
    assert same.json()["id"] == second["id"]
    assert same.json()["changelog"] == "describe it"
    versions = (await api.get(f"{BASE}/{second['id']}/versions")).json()["items"]
    assert [(v["version"], v["is_latest"]) for v in versions] == [(2, True), (1, False)]
    old = (await api.get(f"{BASE}/{first['id']}")).json()
    assert old["is_latest"] is False and old["description"] == ""


async def test_put_may_not_take_another_templates_name(api: AdminApi) -> None:
    await create(api, greeting("one"))
    two = await create(api, greeting("two"))
    clash = await api.put(f"{BASE}/{two['id']}", json={"template_name": "one"})
    assert clash.status_code == 409
    invalid = await api.put(
        f"{BASE}/{two['id']}", json={"menu_structure": {"start": "x", "steps": []}}
    )
    assert invalid.status_code == 422


async def test_delete_deactivates_and_running_conversations_finish(api: AdminApi) -> None:
    template = await create(api, menu_template("shop"))
    runtime = api.runtime
    owner = (await api.get("/api/me")).json()["id"]
    customer = Customer(owner_id=owner, customer_key="4915550001", channel_number="pn-1")
    now = datetime.now(UTC)
    async with runtime.db_sessions() as db_session:
        turn, live = await runtime.conversations.handle(
            db_session, customer, TextReceived("shop"), now=now
        )
        assert live is not None
        await runtime.store.commit(db_session, live)
    assert turn.template_name == "shop"
    deleted = await api.delete(f"{BASE}/{template['id']}")
    assert deleted.json() == {"id": template["id"], "action": "deactivated"}
    assert (await api.get(f"{BASE}/{template['id']}")).json()["is_active"] is False
    async with runtime.db_sessions() as db_session:
        turn, live = await runtime.conversations.handle(
            db_session, customer, ChoiceReceived("tea", "Tea"), now=now
        )
        await db_session.commit()
        assert turn.status is not None and turn.status.value == "completed"
        other = Customer(owner_id=owner, customer_key="4915550002", channel_number="pn-1")
        turn, live = await runtime.conversations.handle(
            db_session, other, TextReceived("shop"), now=now
        )
        await db_session.commit()
    assert live is None and turn.template_name is None


async def test_purge_refuses_a_template_in_use_and_removes_an_unused_one(api: AdminApi) -> None:
    template = await create(api, menu_template("shop"))
    started = await api.post("/api/workflows", json={"template_id": template["id"]})
    assert started.status_code == 201, started.text
    refused = await api.delete(f"{BASE}/{template['id']}", params={"purge": True})
    assert refused.status_code == 409
    await api.put(f"/api/workflows/{started.json()['id']}", json={"status": "cancelled"})
    purged = await api.delete(f"{BASE}/{template['id']}", params={"purge": True})
    assert purged.json()["action"] == "purged"
    assert (await api.get(f"{BASE}/{template['id']}")).status_code == 404


async def test_forks_are_private_copies_and_lineage_follows_them(api: AdminApi) -> None:
    source = await create(api, greeting("shared", is_public=True))
    fork = (await api.post(f"{BASE}/{source['id']}/fork", user="bob")).json()
    assert fork["owner_id"] != source["owner_id"]
    assert (fork["template_name"], fork["is_public"], fork["base_template_id"]) == (
        "shared",
        False,
        source["id"],
    )
    second = await api.post(f"{BASE}/{fork['id']}/fork", user="bob")
    assert second.json()["template_name"] == "shared_fork"
    named = await api.post(f"{BASE}/{fork['id']}/fork", user="bob", json={"name": "mine"})
    assert named.json()["template_name"] == "mine"
    clash = await api.post(f"{BASE}/{fork['id']}/fork", user="bob", json={"name": "mine"})
    assert clash.status_code == 409
    lineage = (await api.get(f"{BASE}/{named.json()['id']}/lineage", user="bob")).json()
    assert [item["id"] for item in lineage["items"]] == [
        named.json()["id"],
        fork["id"],
        source["id"],
    ]


async def test_popular_lists_public_templates_by_usage_then_rating(api: AdminApi) -> None:
    ids = {}
    for name in ("a", "b", "c"):
        ids[name] = (await create(api, greeting(name, is_public=True, category="demo")))["id"]
    await create(api, greeting("hidden", category="demo"))
    for _ in range(3):
        await api.post("/api/workflows", json={"template_id": ids["c"]})
    await api.post(f"{BASE}/{ids['b']}/ratings", json={"rating": 5})
    popular = (await api.get(f"{BASE}/popular", user="bob", params={"category": "demo"})).json()
    assert [item["template_name"] for item in popular["items"]] == ["c", "b", "a"]
    assert popular["total"] == 3
    everywhere = (await api.get(f"{BASE}/popular", params={"limit": 100})).json()
    assert {"main_menu", "c"} <= {item["template_name"] for item in everywhere["items"]}


async def test_secrets_in_headers_are_hidden_from_other_owners(api: AdminApi) -> None:
    secret = {"Authorization": "Bearer s3cret"}
    document = greeting(
        "shared",
        is_public=True,
        end_action_type="api_call",
        end_action_target={"endpoint": "https://crm.example/leads", "headers": secret},
        workflow_dependencies=[
            {"name": "kyc", "url": "https://kyc.example/checks", "headers": secret}
        ],
    )
    template = await create(api, document)
    own = (await api.get(f"{BASE}/{template['id']}")).json()
    assert own["end_action_target"]["headers"] == secret
    seen = (await api.get(f"{BASE}/{template['id']}", user="bob")).json()
    assert seen["end_action_target"]["headers"] == {"Authorization": "[redacted]"}
    assert seen["workflow_dependencies"][0]["headers"] == {"Authorization": "[redacted]"}
    fork = (await api.post(f"{BASE}/{template['id']}/fork", user="bob")).json()
    assert fork["end_action_target"]["headers"] == {"Authorization": "[redacted]"}
    assert "s3cret" not in str(fork)
