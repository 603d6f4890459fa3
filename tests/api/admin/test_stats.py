"""``/api/stats/templates/{id}``: usage, completion rate, response time and the step funnel."""

from __future__ import annotations

from typing import Any

from convoflow.channels.terminal.chat import ChatSession
from tests.api.admin.conftest import AdminApi
from tests.api.admin.helpers import menu_template


async def say(api: AdminApi, phone: str, *texts: str) -> None:
    chat = ChatSession(
        api.runtime.access, api.runtime.processor, owner_name="alice", phone=phone, name="Ana"
    )
    await chat.open()
    for text in texts:
        await chat.say(text)


def funnel_of(stats: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        item["step"]: (item["reached"], item["completed"], item["dropped_off"], item["in_progress"])
        for item in stats["funnel"]
    }


async def test_stats_count_runs_and_show_where_customers_stopped(api: AdminApi) -> None:
    created = await api.post("/api/workflow-templates", json=menu_template("shop", is_public=True))
    template = created.json()
    await say(api, "4915550001", "shop", "Tea")
    await say(api, "4915550002", "shop", "stop")
    await say(api, "4915550003", "shop")
    response = await api.get(f"/api/stats/templates/{template['id']}")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["usage_count"], stats["runs"]) == (3, 3)
    assert stats["runs_by_status"] == {"completed": 1, "cancelled": 1, "active": 1}
    assert round(stats["completion_rate"], 3) == 0.333
    assert stats["avg_response_time_ms"] >= 0
    assert funnel_of(stats) == {"welcome": (3, 1, 1, 1), "done": (1, 1, 0, 0)}
    assert stats["runs_by_version"] == {"1": 3}

    second = await api.put(f"/api/workflow-templates/{template['id']}", json={"description": "v2"})
    by_new_id = (await api.get(f"/api/stats/templates/{second.json()['id']}")).json()
    assert (by_new_id["version"], by_new_id["runs"]) == (2, 3)

    others = (await api.get(f"/api/stats/templates/{template['id']}", user="bob")).json()
    assert (others["runs"], others["funnel"][0]["reached"]) == (0, 0)


async def test_stats_of_a_private_template_are_private(api: AdminApi) -> None:
    template = (await api.post("/api/workflow-templates", json=menu_template("shop"))).json()
    assert (await api.get(f"/api/stats/templates/{template['id']}", user="bob")).status_code == 404
    empty = (await api.get(f"/api/stats/templates/{template['id']}")).json()
    assert (empty["runs"], empty["completion_rate"]) == (0, 0.0)
    assert [item["step"] for item in empty["funnel"]] == ["welcome", "done"]
