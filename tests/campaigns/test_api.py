"""The campaign API and CLI: create, audience (CSV and filters), preview, schedule,
pause, resume, cancel, recipients; template sync."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from convoflow.store.models import Contact
from convoflow.store.types import new_id, utcnow
from tests.api.admin.conftest import AdminApi, api, connect_number, error_of
from tests.campaigns.helpers import PROMO, numbers
from tests.support.graph_stub import GraphStub

WABA = "55501"
__all__ = ["api"]  # the admin API fixture


async def test_a_campaign_through_the_api(api: AdminApi, graph_stub: GraphStub) -> None:
    await connect_number(api, "777001", waba_id=WABA, access_token=graph_stub.access_token)
    graph_stub.set_templates(WABA, [PROMO])
    synced = await api.post("/api/message-templates/sync")
    assert synced.status_code == 200, synced.text
    assert synced.json()["synced"] == 1
    listed = await api.get("/api/message-templates")
    assert [t["name"] for t in listed.json()["items"]] == ["spring_sale"]

    bad = await api.post(
        "/api/campaigns",
        json={"name": "x", "template": {"name": "spring_sale"}, "parameters": {"body": ["1"]}},
    )
    assert bad.status_code == 422 and error_of(bad)["details"][0]["field"] == "parameters.body"
    created = await api.post(
        "/api/campaigns",
        json={
            "name": "Spring",
            "template": {"name": "spring_sale", "language": "en_US"},
            "parameters": {
                "body": ["{{recipient.name}}", "{{recipient.discount}}", "{{recipient.city}}"]
            },
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert created.json()["status"] == "draft"

    first, second = numbers(2)
    csv_text = (
        f"phone,name,discount,city\n{first},Ana,10%,Lyon\nbad,Bo,5%,Nice\n{second},Cy,20%,Porto\n"
    )
    audience = await api.post(
        f"/api/campaigns/{campaign_id}/audience",
        content=csv_text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert audience.status_code == 200, audience.text
    assert audience.json()["recipients"] == 2
    assert audience.json()["rejected_rows"][0]["row"] == 3

    preview = await api.get(f"/api/campaigns/{campaign_id}/preview", params={"recipient": second})
    parameters = preview.json()["message"]["template"]["components"][0]["parameters"]
    assert [p["text"] for p in parameters] == ["Cy", "20%", "Porto"]

    scheduled = await api.post(
        f"/api/campaigns/{campaign_id}/schedule",
        json={
            "start_at": "2030-01-01T09:00:00",
            "timezone": "Europe/Paris",
            "window": {"start": "09:00", "end": "20:00", "timezone": "recipient"},
            "max_mps": 20,
        },
    )
    assert scheduled.status_code == 200, scheduled.text
    body = scheduled.json()
    assert body["status"] == "scheduled"
    assert datetime.fromisoformat(body["start_at"]) == datetime(2030, 1, 1, 8, tzinfo=UTC)
    paused = await api.post(f"/api/campaigns/{campaign_id}/pause", json={"reason": "wait"})
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "wait")
    resumed = await api.post(f"/api/campaigns/{campaign_id}/resume")
    assert resumed.json()["status"] == "scheduled"
    cancelled = await api.post(f"/api/campaigns/{campaign_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = await api.post(f"/api/campaigns/{campaign_id}/resume")
    assert again.status_code == 409
    shown = await api.get(f"/api/campaigns/{campaign_id}")
    assert shown.json()["funnel"]["by_status"] == {"skipped": 2}
    page = await api.get(f"/api/campaigns/{campaign_id}/recipients", params={"status": "skipped"})
    assert page.json()["total"] == 2
    assert (await api.get(f"/api/campaigns/{campaign_id}", user="bob")).status_code == 404


async def test_an_audience_from_contact_filters_and_a_flow(
    api: AdminApi, graph_stub: GraphStub
) -> None:
    await connect_number(api, "777002", waba_id=WABA)
    tagged, untagged = numbers(2)
    created = await api.post(
        "/api/campaigns",
        json={"name": "Tags", "template": {"name": "anything"}, "parameters": {}},
    )
    campaign_id = created.json()["id"]
    alice = (await api.get("/api/me")).json()["id"]
    async with api.runtime.db_sessions.begin() as db_session:
        for key, tags in ((tagged, ["vip"]), (untagged, [])):
            db_session.add(
                Contact(
                    id=new_id(),
                    owner_id=alice,
                    customer_key=key,
                    wa_id=key,
                    name="N",
                    first_seen_at=utcnow(),
                    last_seen_at=utcnow(),
                    opted_out=False,
                    tags=tags,
                )
            )
    chosen = await api.post(
        f"/api/campaigns/{campaign_id}/audience", json={"filters": {"tags": ["VIP"]}}
    )
    assert chosen.json()["recipients"] == 1
    async with api.runtime.db_sessions.begin() as db_session:
        await db_session.execute(update(Contact).values(opted_out=True))
    none_left = await api.post(
        f"/api/campaigns/{campaign_id}/audience", json={"filters": {"tags": ["vip"]}}
    )
    assert none_left.json()["recipients"] == 0

    flow = await api.post(
        "/api/whatsapp/flow",
        json={
            "name": "with recipients",
            "automationJson": [{"id": "a", "type": "end", "text": "bye"}],
            "recipientArray": [tagged, {"phone": untagged, "city": "Lyon"}, "12"],
        },
    )
    assert flow.status_code == 201, flow.text
    assert flow.json()["recipientArray"][1]["city"] == "Lyon"
    from_flow = await api.post(
        f"/api/campaigns/{campaign_id}/audience", json={"flow_id": flow.json()["id"]}
    )
    assert (from_flow.json()["recipients"], from_flow.json()["rejected"]) == (0, 1)  # opted out
