"""The builder's API: step types, drafts and publishing, version history, variable hints."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from convoflow.channels.terminal.chat import ChatSession
from convoflow.engine import STEP_TYPES, load_template
from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, loan_template, menu_template

BASE = "/api/workflow-templates"

#: One valid step of every type the engine has, as a builder would send it.
EXAMPLE_STEPS: dict[str, dict[str, Any]] = {
    "message": {"text": "Hi", "next": "done"},
    "buttons": {"text": "Pick", "buttons": [{"id": "a", "label": "A", "next": "done"}]},
    "list": {
        "text": "Pick",
        "button": "Open",
        "sections": [{"rows": [{"id": "r", "title": "Row", "next": "done"}]}],
    },
    "image": {"url": "https://cdn.example.com/a.png", "next": "done"},
    "video": {"media_id": "123", "next": "done"},
    "audio": {"url": "https://cdn.example.com/a.ogg", "next": "done"},
    "document": {"url": "https://cdn.example.com/a.pdf", "filename": "a.pdf", "next": "done"},
    "template": {"name": "spring_sale", "next": "done"},
    "ask": {"field": "age", "prompt": "Age?", "input": "integer", "next": "done"},
    "collect": {"next": "done"},
    "condition": {"branches": [{"var": "age", "op": "gt", "value": 17, "next": "done"}]},
    "set": {"values": {"x": 1}, "next": "done"},
    "http": {"url": "https://api.example.com", "next": "done"},
    "connect": {"template": "main_menu"},
    "handoff": {"next": "done", "timeout": "1h", "on_timeout": "done"},
    "end": {"text": "Bye"},
    "ai_extract": {"fields": {"amount": {"type": "number"}}, "next": "done"},
    "ai_reply": {"guidelines": "Be brief.", "next": "done", "on_handoff": "done"},
    "ai_classify": {"categories": [{"id": "billing", "next": "done"}], "other": "done"},
}


async def create(api: AdminApi, document: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    response = await api.post(BASE, json=document, user=user)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_step_types_describe_every_engine_step_with_a_valid_json_schema(
    api: AdminApi,
) -> None:
    response = await api.get("/api/step-types")
    assert response.status_code == 200, response.text
    items = {item["type"]: item for item in response.json()["items"]}
    assert set(items) == set(STEP_TYPES) == set(EXAMPLE_STEPS)
    for kind, item in items.items():
        schema = item["schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        step = {"id": "s", "type": kind, **EXAMPLE_STEPS[kind]}
        jsonschema.validate(step, schema)  # a valid step fits its form
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**step, "type": "other"}, schema)
        assert item["title"] and item["description"], kind
    exits = {
        kind: [(e["field"], e["kind"], e["repeated"]) for e in item["exits"]]
        for kind, item in items.items()
    }
    assert exits["message"] == [("next", "next", None)]
    assert exits["buttons"] == [
        ("buttons[].next", "option", "buttons"),
        ("on_timeout", "timeout", None),
    ]
    assert exits["list"][0] == ("sections[].rows[].next", "option", "sections[].rows")
    assert exits["condition"] == [
        ("branches[].next", "option", "branches"),
        ("default", "default", None),
    ]
    assert ("on_failure", "failure", None) in exits["http"]
    assert exits["end"] == exits["connect"] == []
    assert ("categories[].next", "option", "categories") in exits["ai_classify"]
    assert items["buttons"]["limits"]["reply_buttons"] == 3
    assert items["buttons"]["limits"]["button_label"] == 20
    assert items["list"]["limits"]["rows"] == 10
    assert items["list"]["limits"]["row_title"] == 24
    assert (items["ask"]["waits"], items["ask"]["timed"]) == (True, True)
    assert (items["http"]["waits"], items["http"]["timed"]) == (True, False)
    assert (await api.get("/api/step-types", user=None)).status_code == 401


async def test_a_draft_with_problems_is_kept_and_the_live_template_waits_for_publish(
    api: AdminApi,
) -> None:
    template = await create(api, menu_template("shop"))
    url = f"{BASE}/{template['id']}"
    empty = (await api.get(f"{url}/draft")).json()
    assert (empty["has_draft"], empty["version"], empty["problems"]) == (False, 1, [])
    assert empty["document"]["menu_structure"] == template["menu_structure"]

    document = copy.deepcopy(empty["document"])
    steps = document["menu_structure"]["steps"]
    steps[0]["position"] = {"x": 10, "y": 20}
    steps[0]["buttons"].append({"id": "juice", "label": "A juice that is far too long"})
    steps[1]["next"] = "nowhere"
    saved = await api.put(f"{url}/draft", json=document)
    assert saved.status_code == 200, saved.text
    draft = saved.json()
    assert (draft["has_draft"], draft["valid"], draft["based_on_version"]) == (True, False, 1)
    where = {(problem["step"], problem["field"]) for problem in draft["problems"]}
    assert ("welcome", "menu_structure.steps.welcome.buttons[2].label") in where
    assert ("done", "menu_structure.steps.done.next") in where
    assert draft["updated_by"] == "alice"

    loaded = (await api.get(f"{url}/draft")).json()
    assert loaded["document"] == document
    assert loaded["problems"] == draft["problems"]
    # Nothing changed for customers: the template and its versions are as they were.
    assert (await api.get(url)).json()["menu_structure"] == template["menu_structure"]
    assert (await api.get(f"{url}/versions")).json()["total"] == 1

    refused = await api.post(f"{url}/publish", json={"changelog": "juice"})
    assert refused.status_code == 422
    assert any(d["step"] == "welcome" for d in error_of(refused)["details"])
    assert (await api.get(f"{url}/draft")).json()["has_draft"] is True  # kept


async def test_a_badly_shaped_draft_is_kept_with_the_fields_named(api: AdminApi) -> None:
    template = await create(api, menu_template("shop"))
    url = f"{BASE}/{template['id']}/draft"
    document = {"description": "x" * 10_001, "trigger_keywords": "not a list"}
    saved = await api.put(url, json=document)
    assert saved.status_code == 200, saved.text
    fields = {problem["field"] for problem in saved.json()["problems"]}
    assert {"description", "trigger_keywords"} <= fields
    assert (await api.get(url)).json()["document"] == document


async def test_publish_writes_a_version_with_the_changelog_and_customers_get_it_then(
    api: AdminApi,
) -> None:
    template = await create(api, menu_template("shop"))
    url = f"{BASE}/{template['id']}"
    customer = ChatSession(
        api.runtime.access, api.runtime.processor, owner_name="alice", phone="4915550100", name="A"
    )
    await customer.open()
    document = (await api.get(f"{url}/draft")).json()["document"]
    document["menu_structure"]["steps"][0]["text"] = "Pick a drink"
    document["menu_structure"]["steps"][0]["position"] = {"x": 5, "y": 6}
    assert (await api.put(f"{url}/draft", json=document)).json()["valid"] is True

    before = await customer.say("shop")
    assert before[0].body["interactive"]["body"]["text"] == "Pick one"  # the published text
    await customer.say("Tea")

    published = await api.post(f"{url}/publish", json={"changelog": "clearer question"})
    assert published.status_code == 200, published.text
    assert published.headers["X-Convoflow-Save"] == "updated"
    new = published.json()
    assert (new["version"], new["changelog"], new["is_latest"]) == (2, "clearer question", True)
    assert new["menu_structure"]["steps"][0]["position"] == {"x": 5, "y": 6}
    assert (await api.get(f"{url}/draft")).json()["has_draft"] is False
    after = await customer.say("shop")
    assert after[0].body["interactive"]["body"]["text"] == "Pick a drink"

    nothing = await api.post(f"{url}/publish", json={"changelog": "again"})
    assert nothing.status_code == 409
    assert (await api.post(f"{url}/publish", json={"changelog": ""})).status_code == 422


async def test_versions_list_read_diff_and_restore(api: AdminApi) -> None:
    template = await create(api, menu_template("shop", changelog="first"))
    url = f"{BASE}/{template['id']}"
    second = copy.deepcopy(template["menu_structure"])
    second["steps"][0]["text"] = "Pick a drink"
    second["steps"][0]["position"] = {"x": 1, "y": 2}
    second["steps"].append({"id": "later", "type": "end", "text": "Later"})
    second["steps"][0]["buttons"].append({"id": "later", "label": "Later", "next": "later"})
    second["steps"][1]["position"] = {"x": 9, "y": 9}
    body = {"menu_structure": second, "description": "drinks", "changelog": "more options"}
    assert (await api.put(url, json=body)).status_code == 200

    versions = (await api.get(f"{url}/versions")).json()
    assert versions["total"] == 2
    assert [(v["version"], v["changelog"], v["author"]) for v in versions["items"]] == [
        (2, "more options", "alice"),
        (1, "first", "alice"),
    ]
    one = (await api.get(f"{url}/versions/1")).json()
    assert (one["version"], one["menu_structure"]) == (1, template["menu_structure"])
    assert (await api.get(f"{url}/versions/7")).status_code == 404

    diff = (await api.get(f"{url}/versions/2/diff")).json()
    assert (diff["version"], diff["against"]) == (2, 1)
    assert diff["fields"] == [{"field": "description", "before": "", "after": "drinks"}]
    assert [step["id"] for step in diff["steps"]["added"]] == ["later"]
    assert diff["steps"]["removed"] == []
    changed = {step["id"]: step for step in diff["steps"]["changed"]}
    welcome = {c["field"]: (c["before"], c["after"]) for c in changed["welcome"]["changes"]}
    assert welcome["text"] == ("Pick one", "Pick a drink")
    assert welcome["position"] == (None, {"x": 1, "y": 2})
    assert len(welcome["buttons"][1]) == 3
    assert (changed["welcome"]["moved_only"], changed["done"]["moved_only"]) == (False, True)
    assert "1 step added" in diff["summary"] and "description changed" in diff["summary"]
    backwards = (await api.get(f"{url}/versions/1/diff", params={"against": 2})).json()
    assert [step["id"] for step in backwards["steps"]["removed"]] == ["later"]
    first = (await api.get(f"{url}/versions/1/diff")).json()
    assert first["against"] is None and len(first["steps"]["added"]) == 2

    restored = await api.post(f"{url}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.headers["X-Convoflow-Save"] == "updated"
    third = restored.json()
    assert (third["version"], third["changelog"]) == (3, "Restored version 1")
    assert third["menu_structure"] == template["menu_structure"]
    assert third["description"] == ""
    assert third["is_active"] is True
    assert (await api.get(f"{url}/versions/3/diff", params={"against": 1})).json()[
        "summary"
    ] == "no changes"


async def test_drafts_and_history_follow_the_template_permissions(api: AdminApi) -> None:
    private = await create(api, menu_template("shop"))
    public = await create(api, menu_template("menu", is_public=True))
    for path in ("draft", "versions", "versions/1", "versions/1/diff", "variables"):
        response = await api.get(f"{BASE}/{private['id']}/{path}", user="bob")
        assert response.status_code == 404, path
    document = {"description": "mine now"}
    for method, path, body in (
        ("PUT", "draft", document),
        ("POST", "publish", {"changelog": "x"}),
        ("POST", "versions/1/restore", None),
    ):
        hidden = await api.call(method, f"{BASE}/{private['id']}/{path}", user="bob", json=body)
        assert hidden.status_code == 404, path
        visible = await api.call(method, f"{BASE}/{public['id']}/{path}", user="bob", json=body)
        assert visible.status_code == 403, path
    # Someone else's public template: its history may be read, its draft may not.
    assert (await api.get(f"{BASE}/{public['id']}/versions", user="bob")).status_code == 200
    assert (await api.get(f"{BASE}/{public['id']}/draft", user="bob")).status_code == 403


async def test_variable_hints_name_what_each_step_may_use(api: AdminApi) -> None:
    document = loan_template()
    document["menu_structure"] = {
        "start": "kind",
        "steps": [
            {
                "id": "kind",
                "type": "buttons",
                "text": "Which loan?",
                "save_as": "loan_kind",
                "buttons": [{"id": "car", "label": "Car", "next": "age"}],
            },
            {"id": "age", "type": "ask", "field": "age", "prompt": "Age?", "next": "details"},
            {"id": "details", "type": "collect", "next": "submitted"},
            {"id": "submitted", "type": "end", "text": "Thanks, {{amount}} received."},
        ],
    }
    document["default_params"] = {"currency": "EUR"}
    template = await create(api, document)
    url = f"{BASE}/{template['id']}/variables"
    hints = (await api.get(url)).json()
    assert hints["from_draft"] is False
    common = [(v["name"], v["source"]) for v in hints["common"]]
    assert common == [
        ("contact.name", "contact"),
        ("contact.phone", "contact"),
        ("currency", "default_params"),
        ("amount", "state_schema"),
        ("purpose", "state_schema"),
    ]
    by_step = {
        item["step"]: {v["name"]: v["set_by"] for v in item["variables"] if v["source"] == "step"}
        for item in hints["steps"]
    }
    assert by_step["kind"] == {}
    assert by_step["age"] == {"loan_kind": "kind", "loan_kind_label": "kind"}
    assert by_step["submitted"] == {
        "loan_kind": "kind",
        "loan_kind_label": "kind",
        "age": "age",
    }

    # A draft under construction still gives hints for the steps that can be read.
    draft = copy.deepcopy(document)
    draft["menu_structure"]["steps"].insert(
        2,
        {"id": "broken", "type": "set", "next": "details"},  # no values yet
    )
    draft["menu_structure"]["steps"].insert(
        2, {"id": "city", "type": "ask", "field": "city", "prompt": "City?", "next": "details"}
    )
    draft["menu_structure"]["steps"][1]["next"] = "city"
    assert (await api.put(f"{BASE}/{template['id']}/draft", json=draft)).status_code == 200
    from_draft = (await api.get(url)).json()
    assert from_draft["from_draft"] is True
    steps = {item["step"]: [v["name"] for v in item["variables"]] for item in from_draft["steps"]}
    assert "broken" not in steps
    assert "city" in steps["submitted"]
    published = (await api.get(url, params={"draft": "false"})).json()
    assert published["from_draft"] is False
    assert "city" not in [v["name"] for item in published["steps"] for v in item["variables"]]


async def test_a_flow_runner_import_keeps_and_completes_the_canvas_layout(api: AdminApi) -> None:
    template = await create(api, copy.deepcopy(FLOW_RUNNER_FLOW))
    steps = {step["id"]: step for step in template["menu_structure"]["steps"]}
    assert steps["welcome"]["position"] == {"x": 100, "y": 40}
    assert steps["photo"]["position"] == {"x": 300, "y": 40}
    laid_out = {step_id: step["position"] for step_id, step in steps.items()}
    assert all(position is not None for position in laid_out.values())
    assert len({(p["x"], p["y"]) for p in laid_out.values()}) == len(laid_out)
    load_template(template["menu_structure"])  # positions keep the graph valid
    exported = (await api.get("/api/whatsapp/flow")).json()
    served = next(flow for flow in exported if flow["name"] == "shop_flow")
    assert served["automationJson"] == FLOW_RUNNER_FLOW["steps"]  # served back as imported
