"""Template fields as an integrator sends them: trigger order."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.api.admin.conftest import AdminApi
from tests.api.admin.helpers import FLOW_RUNNER_FLOW, greeting

BASE = "/api/workflow-templates"
FLOWS = "/api/whatsapp/flow"


async def create(api: AdminApi, document: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    response = await api.post(BASE, user=user, json=document)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


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
