"""Dependencies and end actions run by the real job runner against real HTTP servers.

The KYC stand-in fails twice, then verifies; the end-action receiver checks the HMAC
signature and the idempotency key. Nothing is called inside the API request: the tests
wait for the background jobs to settle the instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from convoflow.jobs.backoff import Backoff
from convoflow.jobs.effects import ATTEMPT_RUNNERS
from tests.api.admin.conftest import END_ACTION_SECRET, AdminApi
from tests.api.admin.helpers import loan_template
from tests.api.admin.standins import EndActionReceiver, KycStandIn

DATA = {"amount": 2500, "purpose": "A new roof"}


@pytest.fixture
def kyc() -> Iterator[KycStandIn]:
    with KycStandIn(failures=2) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[EndActionReceiver]:
    with EndActionReceiver(END_ACTION_SECRET) as server:
        yield server


@pytest.fixture
def fast_retries(api: AdminApi) -> None:
    """Retries a few milliseconds apart, so the tests do not wait for real backoff."""
    api.runtime.jobs.effects.backoff = Backoff(base_seconds=0.05, cap_seconds=0.2)


async def settled(api: AdminApi, instance_id: str, *statuses: str) -> dict[str, Any]:
    """Wait (up to 20 s) for the instance to reach one of ``statuses``."""
    body: dict[str, Any] = {}
    for _ in range(200):
        body = (await api.get(f"/api/workflows/{instance_id}")).json()
        if body["status"] in statuses and (
            body["end_action_result"] or body["status"] != "completed"
        ):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"instance still {body.get('status')}: {body}")


async def loan_with(api: AdminApi, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/workflow-templates", json=loan_template("loan_jobs", **fields))
    assert response.status_code == 201, response.text
    template = response.json()
    started = await api.post(
        "/api/workflows", json={"template_id": template["id"], "state_data": DATA}
    )
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


def end_action(receiver: EndActionReceiver) -> dict[str, Any]:
    return {
        "end_action_type": "api_call",
        "end_action_target": {"endpoint": f"{receiver.url}/loans", "headers": {"X-Api-Key": "k"}},
    }


@pytest.mark.usefixtures("fast_retries")
async def test_end_action_posts_the_signed_data_once_per_instance(
    api: AdminApi, receiver: EndActionReceiver
) -> None:
    instance = await loan_with(api, **end_action(receiver))
    first_version = instance["template_id"]
    newer = await api.put(
        f"/api/workflow-templates/{first_version}", json={"description": "Version 2"}
    )
    assert newer.json()["version"] == 2
    response = await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
    assert response.json()["status"] == "completed"
    done = await settled(api, instance["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert done["end_action_result"]["status_code"] == 200
    assert receiver.rejected == []
    (delivery,) = receiver.deliveries
    assert delivery.idempotency_key == instance["id"]
    # The version the instance ran, not the newest one; the family names the template.
    assert delivery.body == {
        "instance": instance["id"],
        "template": "loan_jobs",
        "template_id": first_version,
        "template_version": 1,
        "family_id": first_version,
        "state_data": DATA,
    }
    assert receiver.received[0].headers["x-api-key"] == "k"


@pytest.mark.usefixtures("fast_retries")
async def test_an_end_action_that_keeps_failing_fails_the_instance(api: AdminApi) -> None:
    with EndActionReceiver(END_ACTION_SECRET, fail_with=503) as down:
        instance = await loan_with(api, **end_action(down))
        await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
        failed = await settled(api, instance["id"], "failed")
    assert "end action failed" in failed["error"]
    assert failed["end_action_result"]["status_code"] == 503
    assert len(down.received) == 5


@pytest.mark.usefixtures("fast_retries")
async def test_kyc_dependency_is_retried_until_it_passes_then_the_end_action_runs(
    api: AdminApi, kyc: KycStandIn, receiver: EndActionReceiver
) -> None:
    assert "dependency" in ATTEMPT_RUNNERS
    dependency = {
        "name": "kyc",
        "url": f"{kyc.url}/checks",
        "body": {"amount": "{{amount}}", "purpose": "{{purpose}}"},
        "save_as": "kyc",
        "on_failure": "retry",
        "max_attempts": 5,
    }
    instance = await loan_with(api, workflow_dependencies=[dependency], **end_action(receiver))
    waiting = await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
    assert (waiting.json()["status"], waiting.json()["pending_dependencies"]) == (
        "waiting",
        ["kyc"],
    )
    done = await settled(api, instance["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert done["state_data"]["kyc"]["status"] == "verified"
    assert len(kyc.received) == 3
    assert kyc.received[0].json == {"amount": 2500, "purpose": "A new roof"}
    (delivery,) = receiver.deliveries
    assert delivery.body["state_data"]["kyc"]["level"] == "gold"
    effects = (await api.get(f"/api/workflows/{instance['id']}/effects")).json()["items"]
    assert {(e["kind"], e["status"], e["attempts"]) for e in effects} == {
        ("dependency", "done", 3),
        ("end_action", "done", 1),
    }


@pytest.mark.usefixtures("fast_retries")
async def test_a_dependency_that_never_passes_follows_on_failure(api: AdminApi) -> None:
    assert "dependency" in ATTEMPT_RUNNERS
    with KycStandIn(failures=100) as never:
        dependency = {
            "name": "kyc",
            "url": f"{never.url}/checks",
            "on_failure": "goto:details",
            "max_attempts": 2,
        }
        instance = await loan_with(api, workflow_dependencies=[dependency])
        await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
        back = await settled(api, instance["id"], "active")
    assert back["current_step"] == "details"
    assert "dependency kyc failed" in back["error"]
    assert len(never.received) == 2


@pytest.mark.usefixtures("fast_retries")
async def test_a_check_that_takes_hours_is_started_then_resolved_from_outside(
    api: AdminApi, kyc: KycStandIn
) -> None:
    assert "dependency" in ATTEMPT_RUNNERS
    kyc.failures = 0
    dependency = {"name": "kyc", "url": f"{kyc.url}/start", "wait_for_callback": True}
    instance = await loan_with(api, workflow_dependencies=[dependency])
    await api.put(f"/api/workflows/{instance['id']}", json={"status": "completed"})
    for _ in range(100):
        effects = (await api.get(f"/api/workflows/{instance['id']}/effects")).json()["items"]
        if effects and effects[0]["status"] == "done":
            break
        await asyncio.sleep(0.1)
    assert len(kyc.received) == 1
    still = (await api.get(f"/api/workflows/{instance['id']}")).json()
    assert (still["status"], still["pending_dependencies"]) == ("waiting", ["kyc"])
    resolved = await api.post(f"/api/workflows/{instance['id']}/dependencies/kyc", json={})
    assert resolved.json()["status"] == "completed"
