"""Analytics of a template after a few runs of the built-in support flow through webhooks:
every number matches what the customers did."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from convoflow.channels.terminal.chat import ChatSession
from convoflow.store.models import WorkflowTemplate
from tests.support.graph_stub import GraphStub
from tests.support.inbox import admin_headers, api_json, replies, settled
from tests.support.webhooks import (
    WebhookClient,
    button_reply,
    change,
    list_reply,
    status,
    text,
    webhook,
)

DONE, HANDED, STOPPED = "4915550701", "4915550702", "4915550703"


async def support_id(client: WebhookClient) -> str:
    async with client.runtime.db_sessions() as db_session:
        template_id = await db_session.scalar(
            select(WorkflowTemplate.id).where(
                WorkflowTemplate.template_name == "support", WorkflowTemplate.is_latest
            )
        )
    assert template_id is not None
    return template_id


async def test_analytics_count_what_the_customers_did(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    headers = await admin_headers(whatsapp)
    template_id = await support_id(whatsapp)
    graph_stub.fail_for(f"+{STOPPED}", code=131026)

    # One customer reads an answer and says goodbye; one talks to a person, who releases
    # them; one stops at once (their messages cannot be delivered).
    await whatsapp.send(text(DONE, "help"), text(HANDED, "support"), text(STOPPED, "help"))
    await replies(graph_stub, DONE, 1)
    await replies(graph_stub, HANDED, 1)
    await whatsapp.send(list_reply(DONE, "hours", "Opening hours"))
    await whatsapp.send(list_reply(HANDED, "agent", "Talk to a person"))
    await whatsapp.send(text(STOPPED, "stop"))
    await replies(graph_stub, DONE, 3)
    await replies(graph_stub, HANDED, 2)
    await whatsapp.send(button_reply(DONE, "finished", "No, thanks"))
    await api_json(whatsapp, "POST", f"/api/conversations/{HANDED}/release", headers)
    await replies(graph_stub, DONE, 4)
    await replies(graph_stub, HANDED, 3)
    # A simulated customer (the builder's simulator) is left out of every number.
    simulated = ChatSession(
        whatsapp.runtime.access,
        whatsapp.runtime.processor,
        owner_name="admin",
        phone="sim:1",
        name="Sim",
    )
    await simulated.open()
    await simulated.say("help")
    await settled(whatsapp)
    first, second = [m.wamid for m in graph_stub.sent if m.to == f"+{DONE}"][:2]
    statuses = [status(str(first), "delivered"), status(str(second), "read")]
    await whatsapp.post(webhook(change(statuses=statuses)))

    report = await api_json(whatsapp, "GET", f"/api/analytics/templates/{template_id}", headers)
    today = datetime.now(UTC).date().isoformat()
    assert (report["template_name"], report["to"]) == ("support", today)
    assert report["runs"] == {"started": 3, "completed": 2, "failed": 0, "cancelled": 1}
    assert len(report["completion_by_day"]) == 30
    assert report["completion_by_day"][-1] == {
        "day": today,
        "started": 3,
        "completed": 2,
        "rate": 2 / 3,
    }
    assert all(day["started"] == 0 for day in report["completion_by_day"][:-1])
    visits = {item["step"]: item["visits"] for item in report["funnel"]["steps"]}
    assert visits == {
        "topics": 3,
        "answer_hours": 1,
        "answer_delivery": 0,
        "answer_refunds": 0,
        "more": 1,
        "human": 1,
        "after_agent": 1,
        "bye": 1,
    }
    edges = {(e["from"], e["to"]): e["count"] for e in report["funnel"]["edges"]}
    assert edges == {
        ("topics", "answer_hours"): 1,
        ("answer_hours", "more"): 1,
        ("more", "bye"): 1,
        ("topics", "human"): 1,
        ("human", "after_agent"): 1,
    }
    # Out: 4 to the first customer, 3 to the second, 2 refused for the third.
    assert report["messages"] == {
        "sent": 7,
        "delivered": 2,
        "read": 1,
        "failed": 2,
        "top_errors": [{"code": 131026, "count": 2}],
    }
    assert report["avg_response_seconds"] is not None and report["avg_response_seconds"] >= 0
    assert report["llm"] == {"tokens": 0, "cost": 0.0}

    stats = await api_json(whatsapp, "GET", f"/api/stats/templates/{template_id}", headers)
    assert (stats["usage_count"], stats["runs"]) == (3, 3)
    assert round(stats["success_rate"], 4) == round(2 / 3, 4)

    exported = await whatsapp.http.get(
        f"/api/analytics/templates/{template_id}",
        params={"table": "edges"},
        headers={**headers, "Accept": "text/csv"},
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["from", "to", "count"]
    assert sorted(rows[1:]) == sorted([a, b, str(n)] for (a, b), n in edges.items())
    funnel = await whatsapp.http.get(
        f"/api/analytics/templates/{template_id}",
        params={"format": "csv", "table": "funnel"},
        headers=headers,
    )
    assert funnel.text.splitlines()[:2] == ["step,visits", "topics,3"]
    days = await whatsapp.http.get(
        f"/api/analytics/templates/{template_id}",
        params={"format": "csv", "table": "days", "from": today, "to": today},
        headers=headers,
    )
    assert days.text.splitlines() == ["day,started,completed,rate", f"{today},3,2,0.6667"]


async def test_a_range_is_checked(whatsapp: WebhookClient) -> None:
    headers = await admin_headers(whatsapp)
    template_id = await support_id(whatsapp)
    backwards = await whatsapp.http.get(
        f"/api/analytics/templates/{template_id}",
        params={"from": "2026-02-02", "to": "2026-02-01"},
        headers=headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"][0]["field"] == "from"
    too_long = await whatsapp.http.get(
        f"/api/analytics/templates/{template_id}",
        params={"from": "2024-01-01", "to": "2026-01-01"},
        headers=headers,
    )
    assert too_long.status_code == 422
    missing = await whatsapp.http.get("/api/analytics/templates/nothing", headers=headers)
    assert missing.status_code == 404
