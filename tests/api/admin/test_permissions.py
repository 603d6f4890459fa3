"""``/api/user-types``, ``/api/permissions``, ``/api/contacts``: who may start what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convoflow.engine.events import TextReceived
from convoflow.services.conversations.service import Customer
from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import greeting, menu_template


async def make(api: AdminApi, path: str, body: dict[str, Any], user: str = "alice") -> Any:
    response = await api.post(path, user=user, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_user_types_crud_and_names_unique_per_owner(api: AdminApi) -> None:
    verified = await make(api, "/api/user-types", {"name": "verified_users"})
    assert verified["description"] == ""
    again = await api.post("/api/user-types", json={"name": "verified_users"})
    assert again.status_code == 409
    await make(api, "/api/user-types", {"name": "verified_users"}, user="bob")
    await make(api, "/api/user-types", {"name": "staff", "description": "Our team"})
    listed = (await api.get("/api/user-types")).json()
    assert [item["name"] for item in listed["items"]] == ["staff", "verified_users"]
    assert listed["total"] == 2
    path = f"/api/user-types/{verified['id']}"
    assert (await api.get(path)).json()["name"] == "verified_users"
    renamed = await api.put(path, json={"name": "kyc_passed", "description": "KYC done"})
    assert renamed.json()["name"] == "kyc_passed"
    clash = await api.put(path, json={"name": "staff"})
    assert clash.status_code == 409
    assert (await api.get(path, user="bob")).status_code == 404
    assert (await api.delete(path, user="bob")).status_code == 404
    assert (await api.delete(path)).json() == {"id": verified["id"], "action": "deleted"}
    assert (await api.get(path)).status_code == 404


async def test_permissions_cover_every_version_and_only_your_templates(api: AdminApi) -> None:
    user_type = await make(api, "/api/user-types", {"name": "verified_users"})
    template = await make(api, "/api/workflow-templates", greeting("vip", is_public=True))
    granted = await make(
        api,
        "/api/permissions",
        {"user_type_id": user_type["id"], "workflow_template_id": template["id"]},
    )
    assert granted["template_name"] == "vip"
    assert granted["user_type_name"] == "verified_users"
    assert granted["template_family_id"] == template["id"]
    second = await api.put(f"/api/workflow-templates/{template['id']}", json={"description": "v2"})
    duplicate = await api.post(
        "/api/permissions",
        json={"user_type_id": user_type["id"], "workflow_template_id": second.json()["id"]},
    )
    assert duplicate.status_code == 409
    by_new_version = await api.get(
        "/api/permissions", params={"workflow_template_id": second.json()["id"]}
    )
    assert [item["id"] for item in by_new_version.json()["items"]] == [granted["id"]]
    by_type = await api.get("/api/permissions", params={"user_type_id": user_type["id"]})
    assert by_type.json()["total"] == 1
    bob_type = await make(api, "/api/user-types", {"name": "friends"}, user="bob")
    not_yours = await api.post(
        "/api/permissions",
        user="bob",
        json={"user_type_id": bob_type["id"], "workflow_template_id": template["id"]},
    )
    assert not_yours.status_code == 403
    private = await make(api, "/api/workflow-templates", greeting("hidden"))
    invisible = await api.post(
        "/api/permissions",
        user="bob",
        json={"user_type_id": bob_type["id"], "workflow_template_id": private["id"]},
    )
    assert invisible.status_code == 404
    other_type = await api.post(
        "/api/permissions",
        json={"user_type_id": bob_type["id"], "workflow_template_id": private["id"]},
    )
    assert other_type.status_code == 404
    assert (await api.get("/api/permissions", user="bob")).json()["items"] == []
    revoked = await api.delete(f"/api/permissions/{granted['id']}")
    assert revoked.json()["action"] == "deleted"
    assert (await api.delete(f"/api/permissions/{granted['id']}")).status_code == 404


async def test_contacts_are_listed_created_and_typed(api: AdminApi) -> None:
    user_type = await make(api, "/api/user-types", {"name": "verified_users"})
    created = await api.put(
        "/api/contacts/4915550100", json={"user_type_id": user_type["id"], "name": "Ana"}
    )
    assert created.status_code == 200
    contact = created.json()
    assert (contact["wa_id"], contact["customer_key"], contact["name"]) == (
        "4915550100",
        "4915550100",
        "Ana",
    )
    await api.put("/api/contacts/4915550200", json={"user_type_id": None})
    missing = await api.patch("/api/contacts/4915550999", json={"user_type_id": None})
    assert missing.status_code == 404
    cleared = await api.patch(f"/api/contacts/{contact['id']}", json={"user_type_id": None})
    assert cleared.json()["user_type_id"] is None
    await api.patch("/api/contacts/4915550100", json={"user_type_id": user_type["id"]})
    typed = (await api.get("/api/contacts", params={"user_type_id": user_type["id"]})).json()
    assert [item["wa_id"] for item in typed["items"]] == ["4915550100"]
    assert (await api.get("/api/contacts")).json()["total"] == 2
    assert (await api.get("/api/contacts", params={"q": "ana"})).json()["total"] == 1
    assert (await api.get("/api/contacts/4915550100")).json()["name"] == "Ana"
    assert (await api.get("/api/contacts/4915550100", user="bob")).status_code == 404
    bad_type = await api.patch("/api/contacts/4915550100", json={"user_type_id": "nope"})
    assert bad_type.status_code == 422
    assert error_of(bad_type)["details"][0]["field"] == "user_type_id"


async def test_a_customer_not_permitted_cannot_start_the_template_by_trigger(api: AdminApi) -> None:
    user_type = await make(api, "/api/user-types", {"name": "verified_users"})
    template = await make(api, "/api/workflow-templates", menu_template("vip"))
    owner = (await api.get("/api/me")).json()["id"]
    verified = Customer(owner, "4915550100", "pn", user_type_id=user_type["id"])
    stranger = Customer(owner, "4915550200", "pn")
    runtime = api.runtime
    now = datetime.now(UTC)

    async def trigger(customer: Customer) -> str | None:
        async with runtime.db_sessions() as db_session:
            turn, _ = await runtime.conversations.handle(
                db_session, customer, TextReceived("vip"), now=now
            )
            await db_session.rollback()
        return turn.template_name

    assert await trigger(stranger) == "vip"  # no permission rows: open to all
    await make(
        api,
        "/api/permissions",
        {"user_type_id": user_type["id"], "workflow_template_id": template["id"]},
    )
    assert await trigger(stranger) is None
    assert await trigger(verified) == "vip"
