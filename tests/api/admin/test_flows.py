"""``/api/whatsapp/flow``: flows exported from a Flow Runner import unchanged and round-trip."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, menu_template

FLOWS = "/api/whatsapp/flow"


def exported_flow(name: str = "shop_flow") -> dict[str, Any]:
    """A flow as a Flow Runner stores it: trigger as a JSON string, steps as automationJson."""
    return {
        "name": name,
        "trigger": json.dumps(FLOW_RUNNER_FLOW["triggers"]),
        "automationJson": copy.deepcopy(FLOW_RUNNER_FLOW["steps"]),
        "status": "ACTIVE",
    }


async def test_an_exported_flow_imports_unchanged_and_is_served_back(api: AdminApi) -> None:
    response = await api.post(FLOWS, json=exported_flow())
    assert response.status_code == 201, response.text
    flow = response.json()
    assert flow["name"] == "shop_flow"
    assert flow["trigger"] == '["shop", "store"]'
    assert flow["automationJson"] == FLOW_RUNNER_FLOW["steps"]
    assert (flow["status"], flow["version"]) == ("ACTIVE", 1)
    listed = (await api.get(FLOWS)).json()
    assert listed == [flow]
    template = (await api.get(f"/api/workflow-templates/{flow['templateId']}")).json()
    assert template["trigger_keywords"] == ["shop", "store"]
    assert template["menu_structure"]["steps"][0]["type"] == "buttons"
    again = await api.post(FLOWS, json={**flow, "name": "shop_copy"})
    assert again.json()["automationJson"] == flow["automationJson"]
    assert again.json()["trigger"] == flow["trigger"]


async def test_trigger_may_be_a_list_and_bad_input_is_422(api: AdminApi) -> None:
    listed = await api.post(FLOWS, json={**exported_flow(), "trigger": ["Shop"]})
    assert listed.json()["trigger"] == '["shop"]'
    bad_trigger = await api.post(FLOWS, json={**exported_flow("b"), "trigger": "[not json"})
    assert bad_trigger.status_code == 422
    assert error_of(bad_trigger)["details"][0]["field"] == "trigger"
    bad_steps = copy.deepcopy(FLOW_RUNNER_FLOW["steps"])
    bad_steps[0]["buttons"][0]["next"] = "nowhere"
    invalid = await api.post(FLOWS, json={**exported_flow("c"), "automationJson": bad_steps})
    assert invalid.status_code == 422
    assert error_of(invalid)["details"][0]["step"] == "welcome"
    duplicate = await api.post(FLOWS, json=exported_flow())
    assert duplicate.status_code == 409


async def test_put_changes_a_flow_by_id_as_a_new_version(api: AdminApi) -> None:
    flow = (await api.post(FLOWS, json=exported_flow())).json()
    paused = (await api.put(FLOWS, json={"id": flow["id"], "status": "inactive"})).json()
    assert (paused["status"], paused["version"]) == ("INACTIVE", 2)
    assert paused["automationJson"] == flow["automationJson"]
    assert paused["trigger"] == flow["trigger"]
    same = (await api.put(FLOWS, json={"id": flow["id"], "status": "INACTIVE"})).json()
    assert same["version"] == 2
    steps = copy.deepcopy(flow["automationJson"])
    steps[-1]["message"] = "See you soon!"
    changed = (await api.put(FLOWS, json={"id": flow["id"], "automationJson": steps})).json()
    assert (changed["version"], changed["automationJson"]) == (3, steps)
    assert changed["status"] == "INACTIVE"
    renamed = await api.put(
        FLOWS, json={"id": flow["templateId"], "name": "store", "trigger": '["store"]'}
    )
    assert (renamed.json()["name"], renamed.json()["trigger"]) == ("store", '["store"]')
    assert (await api.put(FLOWS, user="bob", json={"id": flow["id"]})).status_code == 404


async def test_templates_made_elsewhere_are_exported_in_the_flow_runner_format(
    api: AdminApi,
) -> None:
    created = await api.post("/api/workflow-templates", json=menu_template("cafe"))
    assert created.status_code == 201
    (flow,) = (await api.get(FLOWS)).json()
    assert flow["name"] == "cafe"
    assert [step["type"] for step in flow["automationJson"]] == ["MessageAction", "end"]
    assert flow["automationJson"][0]["message"] == "Pick one"
    assert (await api.get(FLOWS, user="bob")).json() == []


async def test_delete_removes_an_unused_flow_and_deactivates_one_in_use(api: AdminApi) -> None:
    unused = (await api.post(FLOWS, json=exported_flow("unused"))).json()
    assert (await api.delete(FLOWS, user="bob", json={"id": unused["id"]})).status_code == 404
    gone = await api.delete(FLOWS, json={"id": unused["id"]})
    assert gone.json() == {"id": unused["id"], "action": "purged"}
    assert (await api.delete(FLOWS, json={"id": unused["id"]})).status_code == 404
    used = (await api.post(FLOWS, json=exported_flow("used"))).json()
    await api.post("/api/workflows", json={"template_id": used["templateId"]})
    kept = await api.delete(FLOWS, json={"id": used["id"]})
    assert kept.json()["action"] == "deactivated"
    assert [item["status"] for item in (await api.get(FLOWS)).json()] == ["INACTIVE"]
