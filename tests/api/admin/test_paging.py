"""Every list of the admin API is paged alike: `{"items", "total", "limit", "offset"}`."""

from __future__ import annotations

from typing import Any

from convoflow.channels.terminal.chat import ChatSession
from tests.api.admin.conftest import AdminApi, connect_number, error_of
from tests.api.admin.helpers import greeting, loan_template, menu_template

TEMPLATES = "/api/workflow-templates"
#: The one list kept in another format: the Flow Runner's own.
FLOW_RUNNER_LIST = "/api/whatsapp/flow"


async def created(api: AdminApi, path: str, body: dict[str, Any] | None = None) -> Any:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_every_list_operation_is_described_as_a_page(api: AdminApi) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    pages, arrays = [], []
    for path, methods in schema["paths"].items():
        operation = methods.get("get")
        if not path.startswith("/api/") or operation is None:
            continue
        json_body = operation["responses"]["200"]["content"].get("application/json")
        if json_body is None:  # the event stream
            continue
        content = json_body["schema"]
        if content.get("type") == "array":
            arrays.append(path)
        elif content.get("$ref", "").startswith("#/components/schemas/Page_"):
            pages.append(path)
            parameters = {item["name"]: item["schema"] for item in operation["parameters"]}
            assert parameters["limit"]["maximum"] == 200, path
            assert parameters["limit"]["default"] == 50, path
            assert parameters["offset"]["minimum"] == 0, path
    assert arrays == [FLOW_RUNNER_LIST]
    # a customer's messages in the inbox; campaigns, their recipients, message templates;
    # the users; AI: prices, tools, knowledge bases and their documents
    assert len(pages) == 23
    assert {
        "/api/keys",
        "/api/phone-numbers",
        "/api/users",
        "/api/llm/prices",
        "/api/tools",
        "/api/knowledge-bases",
        "/api/knowledge-bases/{base_id}/documents",
    } <= set(pages)


async def test_every_list_pages_with_limit_and_offset(api: AdminApi) -> None:
    template = await created(api, TEMPLATES, greeting("first", is_public=True))
    await created(api, TEMPLATES, greeting("second", is_public=True))
    for description in ("v2", "v3"):
        await api.put(f"{TEMPLATES}/{template['id']}", json={"description": description})
    fork = await created(api, f"{TEMPLATES}/{template['id']}/fork", {"name": "forked"})
    for name in ("spec_a", "spec_b"):
        await created(api, "/api/template-specs", {"name": name})
    user_types = [await created(api, "/api/user-types", {"name": n}) for n in ("a", "b")]
    for user_type in user_types:
        permission = {"user_type_id": user_type["id"], "workflow_template_id": template["id"]}
        await created(api, "/api/permissions", permission)
    await api.put("/api/contacts/4915550100", json={"user_type_id": user_types[0]["id"]})
    await api.put("/api/contacts/4915550200", json={"user_type_id": user_types[0]["id"]})
    waiting = await _instance_waiting_for_two_dependencies(api)
    await created(api, TEMPLATES, menu_template("shop"))
    await created(api, "/api/keys", {"label": "second key"})
    await connect_number(api, "10001")
    await connect_number(api, "10002")
    for phone in ("4915550300", "4915550400"):
        chat = ChatSession(
            api.runtime.access, api.runtime.processor, owner_name="alice", phone=phone, name="Ana"
        )
        await chat.open()
        await chat.say("shop")

    lists = [
        TEMPLATES,
        f"{TEMPLATES}/popular",
        f"{TEMPLATES}/{template['id']}/versions",
        f"{TEMPLATES}/{fork['id']}/lineage",
        "/api/template-specs",
        "/api/user-types",
        "/api/permissions",
        "/api/contacts",
        "/api/workflows",
        f"/api/workflows/{waiting['id']}/effects",
        "/api/conversations",
        "/api/messages",
        "/api/keys",
        "/api/phone-numbers",
    ]
    for path in lists:
        everything = (await api.get(path)).json()
        assert set(everything) == {"items", "total", "limit", "offset"}, path
        assert (everything["limit"], everything["offset"]) == (50, 0), path
        assert everything["total"] == len(everything["items"]) >= 2, path
        second = (await api.get(path, params={"limit": 1, "offset": 1})).json()
        assert steady(second["items"]) == steady(everything["items"][1:2]), path
        assert (second["total"], second["limit"], second["offset"]) == (
            everything["total"],
            1,
            1,
        ), path
        beyond = (await api.get(path, params={"offset": everything["total"]})).json()
        assert (beyond["items"], beyond["total"]) == ([], everything["total"]), path


def steady(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items without what reading them changes (a key's last use is the request itself)."""
    return [
        {name: value for name, value in item.items() if name != "last_used_at"} for item in items
    ]


async def _instance_waiting_for_two_dependencies(api: AdminApi) -> dict[str, Any]:
    """An instance whose two dependency calls are queued (they go to a closed port)."""
    dependencies = [
        {"name": name, "url": f"http://127.0.0.1:9/{name}", "max_attempts": 1}
        for name in ("kyc", "aml")
    ]
    template = await created(
        api, TEMPLATES, loan_template("checked", workflow_dependencies=dependencies)
    )
    data = {"amount": 2500, "purpose": "A new roof"}
    instance = await created(
        api, "/api/workflows", {"template_id": template["id"], "state_data": data}
    )
    await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
    second = await created(api, "/api/workflows", {"template_id": template["id"]})
    assert second["id"] != instance["id"]
    return dict(instance)


async def test_limits_outside_the_bounds_are_refused_naming_the_parameter(
    api: AdminApi,
) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}):
        response = await api.get("/api/conversations", params=params)
        assert response.status_code == 422, params
        assert [detail["field"] for detail in error_of(response)["details"]] == list(params)
    largest = await api.get("/api/messages", params={"limit": 200})
    assert largest.json()["limit"] == 200
