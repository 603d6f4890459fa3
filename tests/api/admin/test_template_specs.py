"""``/api/template-specs``: CRUD and templates instantiated from a spec."""

from __future__ import annotations

from typing import Any

from tests.api.admin.conftest import AdminApi
from tests.api.admin.helpers import greeting

SPECS = "/api/template-specs"


async def make_spec(api: AdminApi, user: str = "alice", **fields: Any) -> dict[str, Any]:
    response = await api.post(SPECS, user=user, json={"name": "loans", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_specs_crud_and_names_unique_per_owner(api: AdminApi) -> None:
    spec = await make_spec(api, description="Loans", required_tools=["credit_score"])
    assert (spec["workflow_type"], spec["usage_count"]) == ("plain", 0)
    assert (await api.post(SPECS, json={"name": "loans"})).status_code == 409
    await make_spec(api, user="bob")
    assert [item["name"] for item in (await api.get(SPECS)).json()["items"]] == ["loans"]
    path = f"{SPECS}/{spec['id']}"
    assert (await api.get(path)).json()["required_tools"] == ["credit_score"]
    changed = (await api.put(path, json={"workflow_type": "tools", "tags": ["x"]})).json()
    assert (changed["workflow_type"], changed["tags"], changed["description"]) == (
        "tools",
        ["x"],
        "Loans",
    )
    assert (await api.get(path, user="bob")).status_code == 404
    assert (await api.put(path, user="bob", json={})).status_code == 404
    assert (await api.delete(path)).json()["action"] == "deleted"
    assert (await api.get(path)).status_code == 404
    bad = await api.post(SPECS, json={"name": "x", "workflow_type": "magic"})
    assert bad.status_code == 422


async def test_instantiate_builds_on_the_base_template(api: AdminApi) -> None:
    spec = await make_spec(
        api,
        base_template_name="loan_application",
        workflow_type="full",
        default_params={"currency": "EUR"},
        required_tools=["credit_score"],
        required_retrievers=["policies"],
        tags=["eu"],
    )
    response = await api.post(
        f"{SPECS}/{spec['id']}/instantiate", json={"name": "eu_loans", "trigger_keywords": ["eu"]}
    )
    assert response.status_code == 201, response.text
    template = response.json()
    builtin = (await api.get("/api/workflow-templates", params={"q": "loan_application"})).json()
    base = builtin["items"][0]
    assert template["template_name"] == "eu_loans"
    assert template["base_template_id"] == base["id"]
    assert template["workflow_type"] == "full"
    assert template["default_params"] == {"currency": "EUR"}
    assert (template["required_tools"], template["required_retrievers"]) == (
        ["credit_score"],
        ["policies"],
    )
    assert template["trigger_keywords"] == ["eu"]
    assert "eu" in template["tags"] and "fintech" in template["tags"]
    assert (
        template["state_schema"]
        == (await api.get(f"/api/workflow-templates/{base['id']}")).json()["state_schema"]
    )
    assert template["is_public"] is False
    assert (await api.get(f"{SPECS}/{spec['id']}")).json()["usage_count"] == 1
    again = await api.post(f"{SPECS}/{spec['id']}/instantiate", json={"name": "eu_loans"})
    assert again.status_code == 409


async def test_instantiate_without_a_base_needs_a_graph(api: AdminApi) -> None:
    spec = await make_spec(api)
    refused = await api.post(f"{SPECS}/{spec['id']}/instantiate")
    assert refused.status_code == 422
    graph = greeting()["menu_structure"]
    made = await api.post(f"{SPECS}/{spec['id']}/instantiate", json={"menu_structure": graph})
    assert made.status_code == 201
    assert (made.json()["template_name"], made.json()["base_template_id"]) == ("loans", None)
    missing = await make_spec(api, name="other", base_template_name="no_such_template")
    assert (await api.post(f"{SPECS}/{missing['id']}/instantiate")).status_code == 422
    assert (await api.post(f"{SPECS}/{spec['id']}/instantiate", user="bob")).status_code == 404
