"""One error code per kind of mistake, and details that name real fields of the request."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx

from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, greeting, loan_template, menu_template

TEMPLATES = "/api/workflow-templates"
FLOWS = "/api/whatsapp/flow"


def invalid(response: httpx.Response) -> list[tuple[str, str]]:
    """(step, field) of every detail of a 422 `validation_error`."""
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "validation_error", error
    return [(detail["step"], detail["field"]) for detail in error["details"]]


async def templates_of(api: AdminApi) -> int:
    total: int = (await api.get(TEMPLATES, params={"mine": True})).json()["total"]
    return total


async def test_every_kind_of_422_has_the_one_code(api: AdminApi) -> None:
    schema_misfit = await api.post(f"{TEMPLATES}/nope/ratings", json={"rating": 9})
    assert invalid(schema_misfit) == [("", "rating")]
    bad_parameter = await api.get(TEMPLATES, params={"limit": 0})
    assert invalid(bad_parameter) == [("", "limit")]
    unknown_field = await api.post(TEMPLATES, json={**greeting(), "trigger_keyword": ["x"]})
    assert invalid(unknown_field) == [("", "trigger_keyword")]
    malformed = await api.post(
        TEMPLATES, content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert invalid(malformed) == [("", "")]
    assert "not valid JSON" in error_of(malformed)["details"][0]["message"]
    refused_template = await api.post(TEMPLATES, json=greeting(end_action_type="email"))
    assert ("", "end_action_type") in invalid(refused_template)
    bad_value = await api.post(TEMPLATES, json=greeting(base_template_id="01NOSUCHTEMPLATE"))
    assert invalid(bad_value) == [("", "base_template_id")]
    loan = (await api.post(TEMPLATES, json=loan_template())).json()
    instance = (await api.post("/api/workflows", json={"template_id": loan["id"]})).json()
    bad_state = await api.put(
        f"/api/workflows/{instance['id']}", json={"state_data": {"amount": "lots"}}
    )
    assert invalid(bad_state) == [("", "state_data.amount")]
    flow_without_steps = await api.post(FLOWS, json={"name": "empty", "automationJson": "{"})
    assert invalid(flow_without_steps) == [("", "automationJson")]


async def test_each_kind_of_mistake_has_its_code(api: AdminApi) -> None:
    expected = {
        ("GET", "/api/me", None): (401, "unauthorized"),
        ("GET", "/api/no-such-list", "alice"): (404, "not_found"),
        ("DELETE", "/api/me", "alice"): (405, "method_not_allowed"),
    }
    for (method, path, user), (status, code) in expected.items():
        response = await api.call(method, path, user=user)
        assert (response.status_code, error_of(response)["code"]) == (status, code), path


async def test_template_problems_name_the_full_path_in_the_body(api: AdminApi) -> None:
    document = menu_template("long_labels")
    welcome = document["menu_structure"]["steps"][0]
    welcome["buttons"][1]["label"] = "A label far longer than twenty characters"
    document["menu_structure"]["steps"][1]["next"] = "nowhere"
    fields = invalid(await api.post(TEMPLATES, json=document))
    assert ("welcome", "menu_structure.steps.welcome.buttons[1].label") in fields
    assert ("done", "menu_structure.steps.done.next") in fields
    no_start = menu_template("no_start")
    no_start["menu_structure"]["start"] = "missing"
    assert invalid(await api.post(TEMPLATES, json=no_start)) == [("", "menu_structure.start")]
    not_an_object = await api.post(TEMPLATES, json={**greeting(), "menu_structure": {"x": 1}})
    assert invalid(not_an_object) == [("", "menu_structure")]
    assert await templates_of(api) == 0


async def test_a_graph_at_the_top_level_is_named_from_the_top(api: AdminApi) -> None:
    flat = {"template_name": "flat", **menu_template()["menu_structure"]}
    flat["steps"][0]["buttons"][0]["next"] = "nowhere"
    assert ("welcome", "steps.welcome.buttons[0].next") in invalid(
        await api.post(TEMPLATES, json=flat)
    )
    flow = copy.deepcopy(FLOW_RUNNER_FLOW)
    flow["steps"][0]["buttons"][0]["next"] = "nowhere"
    assert ("welcome", "steps.welcome.buttons[0].next") in invalid(
        await api.post(TEMPLATES, json=flow)
    )
    exported = {"name": "f", "automationJson": flow["steps"], "trigger": '["x"]'}
    assert ("welcome", "automationJson.welcome.buttons[0].next") in invalid(
        await api.post(FLOWS, json=exported)
    )


async def test_union_members_never_appear_in_field_paths(api: AdminApi) -> None:
    flow = {"name": "f", "automationJson": FLOW_RUNNER_FLOW["steps"]}
    number = await api.post(FLOWS, json={**flow, "trigger": 5})
    assert set(invalid(number)) == {("", "trigger")}
    items = await api.post(FLOWS, json={**flow, "trigger": ["ok", 7]})
    assert set(invalid(items)) == {("", "trigger"), ("", "trigger[1]")}
    steps = await api.post(FLOWS, json={**flow, "automationJson": 3})
    assert set(invalid(steps)) == {("", "automationJson")}
    keywords = await api.post(TEMPLATES, json=greeting(trigger_keywords=["a", {"b": 1}]))
    assert invalid(keywords) == [("", "trigger_keywords[1]")]
    missing = await api.post("/api/workflows", json={})
    assert invalid(missing) == [("", "template_id")]


async def test_nul_characters_are_refused_naming_where_they_are(api: AdminApi) -> None:
    in_text = await api.post(TEMPLATES, json=greeting(description="a\u0000b"))
    assert invalid(in_text) == [("", "description")]
    assert "NUL" in error_of(in_text)["details"][0]["message"]
    deep = greeting(text="Hello\u0000")
    assert invalid(await api.post(TEMPLATES, json=deep)) == [("", "menu_structure.steps[0].text")]
    in_key = greeting(extra_metadata={"a\u0000": 1})
    assert invalid(await api.post(TEMPLATES, json=in_key)) == [("", "extra_metadata.a\\u0000")]
    in_query = await api.get(TEMPLATES, params={"q": "x\u0000"})
    assert invalid(in_query) == [("", "q")]
    in_path = await api.get("/api/conversations/4915%0055")
    assert invalid(in_path) == [("", "phone")]
    surrogate = json.dumps(greeting(description="\ud800")).encode()
    lone = await api.post(
        TEMPLATES, content=surrogate, headers={"Content-Type": "application/json"}
    )
    assert invalid(lone) == [("", "description")]
    assert await templates_of(api) == 0
    escaped = await api.post(TEMPLATES, json=greeting(description="a \\u0000 is fine"))
    assert escaped.status_code == 201, escaped.text


async def test_a_flow_named_by_its_alias_is_refused_under_that_name(api: AdminApi) -> None:
    blank = await api.post(TEMPLATES, json={"name": "   ", **_graph()})
    assert invalid(blank) == [("", "name")]


def _graph() -> dict[str, Any]:
    return {"menu_structure": greeting()["menu_structure"]}
