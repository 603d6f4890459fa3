"""``/api/workflows``: start with permissions, typed data, legal status changes, dependencies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from convoflow.store.models import WhatsAppMessage
from tests.api.admin.conftest import AdminApi, connect_number, error_of
from tests.api.admin.helpers import greeting, loan_template

TEMPLATES = "/api/workflow-templates"


async def created(api: AdminApi, path: str, body: dict[str, Any], user: str = "alice") -> Any:
    response = await api.post(path, user=user, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def start(api: AdminApi, template_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = await created(
        api, "/api/workflows", {"template_id": template_id, **fields}
    )
    return body


async def put(api: AdminApi, instance_id: str, **body: Any) -> Any:
    return await api.put(f"/api/workflows/{instance_id}", json=body)


async def test_loan_application_lifecycle_from_permission_to_completion(api: AdminApi) -> None:
    loan = await created(api, TEMPLATES, loan_template())
    verified = await created(api, "/api/user-types", {"name": "verified_users"})
    await created(
        api,
        "/api/permissions",
        {"user_type_id": verified["id"], "workflow_template_id": loan["id"]},
    )
    await api.put("/api/contacts/4915550100", json={"user_type_id": verified["id"]})
    await api.put("/api/contacts/4915550200", json={"user_type_id": None})

    refused = await api.post(
        "/api/workflows", json={"template_id": loan["id"], "user_id": "4915550200"}
    )
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    nobody = await api.post("/api/workflows", json={"template_id": loan["id"]})
    assert nobody.status_code == 403

    instance = await start(api, loan["id"], user_id="4915550100", state_data={"amount": "2,500"})
    assert (instance["status"], instance["state_data"]) == ("active", {"amount": 2500})
    assert instance["contact_id"] is not None

    wrong = await put(api, instance["id"], state_data={"amount": "lots", "purpose": "A car"})
    assert wrong.status_code == 422
    error = error_of(wrong)
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["state_data.amount"]
    unknown = await put(api, instance["id"], state_data={"colour": "red"})
    assert error_of(unknown)["details"][0]["field"] == "state_data.colour"
    too_early = await put(api, instance["id"], status="completed")
    assert too_early.status_code == 422
    assert error_of(too_early)["details"][0]["field"] == "state_data.purpose"

    updated = (await put(api, instance["id"], state_data={"purpose": "A car"})).json()
    assert updated["state_data"] == {"amount": 2500, "purpose": "A car"}
    done = (await put(api, instance["id"], status="completed")).json()
    assert done["status"] == "completed" and done["completed_at"] is not None
    stats = (await api.get(f"{TEMPLATES}/{loan['id']}")).json()
    assert (stats["usage_count"], stats["success_rate"]) == (1, 1.0)


async def test_only_legal_status_changes(api: AdminApi) -> None:
    template = await created(api, TEMPLATES, greeting())
    instance = await start(api, template["id"])
    path_id = instance["id"]
    assert (await put(api, path_id, status="waiting")).json()["status"] == "waiting"
    assert (await put(api, path_id, status="active")).json()["status"] == "active"
    assert (await put(api, path_id, status="failed")).json()["status"] == "failed"
    assert (await put(api, path_id, status="active")).json()["status"] == "active"
    assert (await put(api, path_id, status="cancelled")).json()["status"] == "cancelled"
    for target in ("active", "completed", "waiting"):
        refused = await put(api, path_id, status=target)
        assert refused.status_code == 409, target
    assert (await put(api, path_id, state_data={"x": 1})).status_code == 409
    assert (await put(api, path_id, status="paused")).status_code == 422
    finished = await start(api, template["id"])
    await put(api, finished["id"], status="completed")
    assert (await put(api, finished["id"], status="failed")).status_code == 409


async def test_instances_are_listed_filtered_and_private(api: AdminApi) -> None:
    one = await created(api, TEMPLATES, greeting("one"))
    two = await created(api, TEMPLATES, greeting("two", is_public=True))
    first = await start(api, one["id"], user_id="4915550100")
    await start(api, two["id"], user_id="4915550200")
    await start(api, two["id"], user_id="4915550100", conversation_id="4915550100")
    await put(api, first["id"], status="completed")
    bob_instance = await created(api, "/api/workflows", {"template_id": two["id"]}, user="bob")

    async def ids(**params: Any) -> int:
        response = await api.get("/api/workflows", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert await ids() == 3
    assert await ids(status="completed") == 1
    assert await ids(template_id=two["id"]) == 2
    assert await ids(user_id="4915550100") == 2
    assert await ids(conversation_id="4915550100") == 1
    page = (await api.get("/api/workflows", params={"limit": 1, "offset": 2})).json()
    assert [item["id"] for item in page["items"]] == [first["id"]]
    assert (await api.get(f"/api/workflows/{bob_instance['id']}")).status_code == 404
    assert (await put(api, bob_instance["id"], status="cancelled")).status_code == 404
    assert (await api.get(f"/api/workflows/{first['id']}")).json()["status"] == "completed"
    missing = await api.post("/api/workflows", json={"template_id": "01NOSUCHTEMPLATE000000000"})
    assert missing.status_code == 404


async def test_a_deactivated_template_cannot_be_started(api: AdminApi) -> None:
    template = await created(api, TEMPLATES, greeting())
    await api.delete(f"{TEMPLATES}/{template['id']}")
    refused = await api.post("/api/workflows", json={"template_id": template["id"]})
    assert refused.status_code == 409


def kyc_template(**dependency: Any) -> dict[str, Any]:
    return loan_template(
        "kyc_loan",
        workflow_dependencies=[
            {"name": "kyc", "wait_for_callback": True, "save_as": "kyc_result", **dependency}
        ],
    )


async def ready_instance(api: AdminApi, template: dict[str, Any], **fields: Any) -> Any:
    data = {"amount": 1000, "purpose": "A bike"}
    return await start(api, template["id"], state_data=data, **fields)


async def outbound_texts(api: AdminApi, customer_key: str) -> list[str]:
    async with api.runtime.db_sessions() as db_session:
        rows = await db_session.execute(
            select(WhatsAppMessage.payload)
            .where(WhatsAppMessage.customer_key == customer_key, WhatsAppMessage.direction == "out")
            .order_by(WhatsAppMessage.id)
        )
        return [payload["text"]["body"] for payload in rows.scalars() if payload["type"] == "text"]


async def test_completion_waits_for_dependencies_resolved_from_outside(api: AdminApi) -> None:
    template = await created(
        api, TEMPLATES, kyc_template(success_message="Your ID check for {{amount}} passed.")
    )
    await api.put("/api/contacts/4915550100", json={"user_type_id": None, "name": "Ana"})
    await connect_number(api, "15551110000")  # the number Ana is told from
    instance = await ready_instance(api, template, conversation_id="4915550100")
    waiting = (await put(api, instance["id"], status="completed")).json()
    assert waiting["status"] == "waiting"
    assert (waiting["pending_dependencies"], waiting["waiting_for"]) == (["kyc"], "kyc")
    again = (await put(api, instance["id"], status="completed")).json()
    assert again["status"] == "waiting"
    assert (await put(api, instance["id"], status="active")).status_code == 409
    unknown = await api.post(f"/api/workflows/{instance['id']}/dependencies/bank", json={})
    assert unknown.status_code == 404
    resolved = await api.post(
        f"/api/workflows/{instance['id']}/dependencies/kyc",
        json={"ok": True, "data": {"score": 7}},
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "completed"
    assert body["state_data"]["kyc_result"] == {"score": 7}
    assert body["pending_dependencies"] == []
    late = await api.post(f"/api/workflows/{instance['id']}/dependencies/kyc", json={})
    assert late.status_code == 409
    assert await outbound_texts(api, "4915550100") == ["Your ID check for 1000 passed."]


async def test_dependency_messages_stay_within_whatsapp_limits(api: AdminApi) -> None:
    template = await created(
        api,
        TEMPLATES,
        # A failed check saves no result, so the failure message renders blank.
        kyc_template(success_message="{{purpose}}", failure_message=" {{kyc_result}} "),
    )
    await connect_number(api, "15551110000")  # the number the customers are told from
    customers = {"passed": "4915550111", "failed": "4915550112"}
    for outcome, customer_key in customers.items():
        state = {"amount": 1000, "purpose": "p" * 5000}
        instance = await start(api, template["id"], state_data=state, conversation_id=customer_key)
        await put(api, instance["id"], status="completed")
        resolved = await api.post(
            f"/api/workflows/{instance['id']}/dependencies/kyc", json={"ok": outcome == "passed"}
        )
        assert resolved.status_code == 200, resolved.text

    assert await outbound_texts(api, customers["passed"]) == ["p" * 4095 + "…"]
    assert await outbound_texts(api, customers["failed"]) == []  # blank: nothing to send


async def test_a_failed_dependency_fails_the_instance_or_goes_to_a_step(api: AdminApi) -> None:
    failing = await created(api, TEMPLATES, kyc_template(on_failure="fail"))
    instance = await ready_instance(api, failing)
    await put(api, instance["id"], status="completed")
    failed = await api.post(
        f"/api/workflows/{instance['id']}/dependencies/kyc",
        json={"ok": False, "error": "document expired"},
    )
    assert failed.json()["status"] == "failed"
    assert "document expired" in failed.json()["error"]

    routed = await created(
        api, TEMPLATES, {**kyc_template(on_failure="goto:details"), "name": "routed"}
    )
    instance = await ready_instance(api, routed)
    await put(api, instance["id"], status="completed")
    back = await api.post(f"/api/workflows/{instance['id']}/dependencies/kyc", json={"ok": False})
    assert (back.json()["status"], back.json()["current_step"]) == ("active", "details")
    assert back.json()["visited_steps"][-1] == "details"


async def test_dependency_calls_and_the_end_action_are_queued_not_run_inline(
    api: AdminApi,
) -> None:
    document = loan_template(
        "queued",
        workflow_dependencies=[
            {
                "name": "kyc",
                "url": "http://127.0.0.1:9/kyc/{{amount}}",
                "body": {"amount": "{{amount}}"},
                "max_attempts": 3,
            }
        ],
        end_action_type="api_call",
        end_action_target={"endpoint": "http://127.0.0.1:9/done"},
    )
    template = await created(api, TEMPLATES, document)
    instance = await ready_instance(api, template)
    waiting = (await put(api, instance["id"], status="completed")).json()
    assert waiting["status"] == "waiting"
    effects = (await api.get(f"/api/workflows/{instance['id']}/effects")).json()["items"]
    assert [(e["kind"], e["name"]) for e in effects] == [("dependency", "kyc")]
    done = await api.post(f"/api/workflows/{instance['id']}/dependencies/kyc", json={"ok": True})
    assert done.json()["status"] == "completed"
    effects = (await api.get(f"/api/workflows/{instance['id']}/effects")).json()["items"]
    assert sorted(e["kind"] for e in effects) == ["dependency", "end_action"]
    assert (
        await api.get(f"/api/workflows/{instance['id']}/effects", user="bob")
    ).status_code == 404
