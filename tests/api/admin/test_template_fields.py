"""Template fields as an integrator sends them: the `name` alias, trigger order, unknown
fields and the size limits of free text."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import update

from convoflow.store.models import WorkflowTemplate
from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, greeting, loan_template

BASE = "/api/workflow-templates"
FLOWS = "/api/whatsapp/flow"


async def create(api: AdminApi, document: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    response = await api.post(BASE, user=user, json=document)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fields_of(response: Any) -> list[str]:
    """The `field` of every detail of a 422 answer."""
    assert response.status_code == 422, response.text
    return [detail["field"] for detail in error_of(response)["details"]]


async def test_put_with_name_renames_the_template(api: AdminApi) -> None:
    template = await create(api, greeting("hello"))
    renamed = await api.put(f"{BASE}/{template['id']}", json={"name": "welcome"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["x-convoflow-save"] == "updated"
    assert (renamed.json()["template_name"], renamed.json()["version"]) == ("welcome", 2)
    listed = (await api.get(BASE, params={"mine": True})).json()
    assert [item["template_name"] for item in listed["items"]] == ["welcome"]
    again = await api.put(f"{BASE}/{template['id']}", json={"name": "welcome"})
    assert again.headers["x-convoflow-save"] == "unchanged"


async def test_put_with_a_name_another_of_yours_has_is_a_conflict(api: AdminApi) -> None:
    await create(api, greeting("taken"))
    other = await create(api, greeting("other"))
    clash = await api.put(f"{BASE}/{other['id']}", json={"name": "taken"})
    assert clash.status_code == 409
    assert error_of(clash)["code"] == "conflict"
    assert (await api.get(f"{BASE}/{other['id']}")).json()["template_name"] == "other"
    versions = (await api.get(f"{BASE}/{other['id']}/versions")).json()
    assert versions["total"] == 1
    bobs = await create(api, greeting("mine"), user="bob")
    free_for_bob = await api.put(f"{BASE}/{bobs['id']}", user="bob", json={"name": "taken"})
    assert free_for_bob.json()["template_name"] == "taken"


async def test_name_and_template_name_that_differ_are_refused(api: AdminApi) -> None:
    template = await create(api, greeting("hello"))
    both = await api.put(f"{BASE}/{template['id']}", json={"name": "a", "template_name": "b"})
    assert fields_of(both) == ["name"]
    same = await api.put(f"{BASE}/{template['id']}", json={"name": "a", "template_name": "a"})
    assert same.json()["template_name"] == "a"


async def test_trigger_keywords_keep_the_order_given_without_duplicates(api: AdminApi) -> None:
    keywords = ["Store", "shop", "  store ", "Buy  Now", "", "apple"]
    created = await create(api, greeting("order", trigger_keywords=keywords))
    expected = ["store", "shop", "buy now", "apple"]
    assert created["trigger_keywords"] == expected
    assert (await api.get(f"{BASE}/{created['id']}")).json()["trigger_keywords"] == expected
    listed = (await api.get(BASE, params={"mine": True})).json()["items"]
    assert listed[0]["trigger_keywords"] == expected
    reordered = await api.put(f"{BASE}/{created['id']}", json={"trigger_keywords": ["b", "a"]})
    assert reordered.json()["trigger_keywords"] == ["b", "a"]
    assert reordered.headers["x-convoflow-save"] == "updated"


async def test_a_flow_runner_trigger_string_is_served_back_unchanged(api: AdminApi) -> None:
    trigger = json.dumps(["zebra", "apple", "café"], ensure_ascii=False)
    flow = {
        "name": "zoo",
        "trigger": trigger,
        "automationJson": copy.deepcopy(FLOW_RUNNER_FLOW["steps"]),
        "status": "ACTIVE",
    }
    created = await api.post(FLOWS, json=flow)
    assert created.status_code == 201, created.text
    assert created.json()["trigger"] == trigger
    (listed,) = (await api.get(FLOWS)).json()
    assert listed["trigger"] == trigger
    body_import = await create(api, {**copy.deepcopy(FLOW_RUNNER_FLOW), "triggers": ["z", "a"]})
    assert body_import["trigger_keywords"] == ["z", "a"]


@pytest.mark.parametrize(
    ("typo", "hint"),
    [("trigger_keyword", "trigger_keywords"), ("triggers", "trigger_keywords"), ("colour", "")],
)
async def test_unknown_fields_of_a_native_body_are_refused_by_name(
    api: AdminApi, typo: str, hint: str
) -> None:
    response = await api.post(BASE, json={**greeting("typo"), typo: ["loan"]})
    assert fields_of(response) == [typo]
    assert hint in error_of(response)["details"][0]["message"]
    assert (await api.get(BASE, params={"mine": True})).json()["total"] == 0


async def test_unknown_fields_are_refused_on_put_and_next_to_a_top_level_graph(
    api: AdminApi,
) -> None:
    template = await create(api, greeting("hello"))
    put = await api.put(f"{BASE}/{template['id']}", json={"descripton": "typo"})
    assert fields_of(put) == ["descripton"]
    assert (await api.get(f"{BASE}/{template['id']}/versions")).json()["total"] == 1
    graph = greeting()["menu_structure"]
    top_level = {"template_name": "flat", **graph, "max_retries": 2, "tagz": ["x"]}
    assert fields_of(await api.post(BASE, json=top_level)) == ["tagz"]
    del top_level["tagz"]
    flat = await create(api, top_level)
    assert flat["menu_structure"]["max_retries"] == 2
    steps_twice = await api.post(BASE, json={**greeting("twice"), "steps": graph["steps"]})
    assert fields_of(steps_twice) == ["steps"]


async def test_flow_runner_and_interactive_bodies_keep_their_own_formats(
    api: AdminApi,
) -> None:
    flow = {**copy.deepcopy(FLOW_RUNNER_FLOW), "flowVersion": 3, "description": "A shop"}
    created = await create(api, flow)
    assert created["description"] == "A shop"
    assert created["menu_structure"]["flowVersion"] == 3
    interactive = {
        "name": "yes_no",
        "messaging_product": "whatsapp",
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Choose"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
        },
    }
    menu = await create(api, interactive)
    assert menu["template_type"] == "button"


LONG = {
    "description": 10_000,
    "guidelines": 50_000,
    "changelog": 10_000,
}


@pytest.mark.parametrize("field", sorted(LONG))
async def test_free_text_over_its_limit_is_refused_naming_the_field(
    api: AdminApi, field: str
) -> None:
    limit = LONG[field]
    fits = await api.post(BASE, json=greeting("fits", **{field: "x" * limit}))
    assert fits.status_code == 201, fits.text
    too_long = await api.post(BASE, json=greeting("long", **{field: "x" * (limit + 1)}))
    assert fields_of(too_long) == [field]
    update = await api.put(f"{BASE}/{fits.json()['id']}", json={field: "y" * (limit + 1)})
    assert fields_of(update) == [field]
    assert (await api.get(f"{BASE}/{fits.json()['id']}")).json()["version"] == 1


async def test_tags_are_limited_in_length_and_number(api: AdminApi) -> None:
    fits = await api.post(BASE, json=greeting("fits", tags=[f"t{n}" for n in range(50)]))
    assert fits.status_code == 201, fits.text
    too_many = await api.post(BASE, json=greeting("many", tags=[f"t{n}" for n in range(51)]))
    assert fields_of(too_many) == ["tags"]
    too_long = await api.post(BASE, json=greeting("long", tags=["ok", "x" * 101]))
    assert fields_of(too_long) == ["tags[1]"]
    update = await api.put(f"{BASE}/{fits.json()['id']}", json={"tags": ["x" * 101]})
    assert fields_of(update) == ["tags[0]"]
    spec = await api.post("/api/template-specs", json={"name": "s", "tags": ["x" * 101]})
    assert fields_of(spec) == ["tags[0]"]


async def test_limits_hold_for_flow_runner_bodies_and_templates_made_from_specs(
    api: AdminApi,
) -> None:
    flow = {**copy.deepcopy(FLOW_RUNNER_FLOW), "description": "x" * 10_001}
    assert fields_of(await api.post(BASE, json=flow)) == ["description"]
    await create(api, loan_template("base", tags=[f"base{n}" for n in range(30)]))
    spec = await api.post(
        "/api/template-specs",
        json={
            "name": "many_tags",
            "base_template_name": "base",
            "tags": [f"s{n}" for n in range(30)],
        },
    )
    assert spec.status_code == 201, spec.text
    made = await api.post(f"/api/template-specs/{spec.json()['id']}/instantiate")
    assert fields_of(made) == ["tags"]
    assert (await api.get(BASE, params={"mine": True})).json()["total"] == 1


async def test_a_fork_of_a_template_stored_before_the_limits_is_refused(api: AdminApi) -> None:
    source = await create(api, greeting("old", is_public=True))
    async with api.runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(WorkflowTemplate)
            .where(WorkflowTemplate.id == source["id"])
            .values(description="x" * 10_001)
        )
    fork = await api.post(f"{BASE}/{source['id']}/fork", user="bob")
    assert fields_of(fork) == ["description"]
    assert (await api.get(BASE, user="bob", params={"mine": True})).json()["total"] == 0
