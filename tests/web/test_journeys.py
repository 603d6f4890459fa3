"""Journeys through the app besides building: importing a Flow Runner flow with its layout,
analytics matching the API, another user's private template, settings, and the inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.web.canvas import node
from tests.web.conftest import screenshot, sign_in
from tests.web.server import WebServer, WebUser
from tests.web.whatsapp import says, taps, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.web]

FLOW_RUNNER = {
    "name": "imported_shop",
    "trigger": '["shop"]',
    "status": "ACTIVE",
    "automationJson": [
        {
            "id": "welcome",
            "type": "MessageAction",
            "message": "Welcome!",
            "buttons": [{"label": "Photos", "next": "photo"}, {"label": "Hours", "next": "hours"}],
            "position": {"x": 0, "y": 200},
        },
        {
            "id": "photo",
            "type": "ImageMessage",
            "file": "https://cdn.example.com/p.png",
            "message": "Our shop",
            "position": {"x": 500, "y": 0},
        },
        {
            "id": "hours",
            "type": "MessageAction",
            "message": "9 to 5",
            "position": {"x": 500, "y": 400},
        },
    ],
}


def create_template(web: WebServer, user: WebUser, document: dict[str, Any]) -> dict[str, Any]:
    """Create a template through the API."""
    with web.api(user) as api:
        response = api.post("/api/workflow-templates", json=document)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def test_import_a_flow_runner_flow_and_see_its_layout(
    page: Any, web: WebServer, admin: WebUser
) -> None:
    sign_in(page, web, admin)
    page.get_by_role("button", name="Import…").click()
    page.get_by_label("Format").select_option("flow_runner")
    page.get_by_label("JSON", exact=True).fill(json.dumps(FLOW_RUNNER))
    page.get_by_role("button", name="Import", exact=True).click()
    for step_id in ("welcome", "photo", "hours"):
        node(page, step_id).wait_for()
    page.locator(".vue-flow__edge").nth(1).wait_for()
    welcome, photo, hours = (node(page, s).bounding_box() for s in ("welcome", "photo", "hours"))
    assert welcome and photo and hours
    # The canvas keeps the flow's own positions (scaled by the zoom that fits it).
    assert photo["x"] > welcome["x"] + welcome["width"]
    assert abs(photo["x"] - hours["x"]) < 2
    assert photo["y"] < welcome["y"] < hours["y"]
    assert page.locator(".vue-flow__edge").count() == 2
    screenshot(page, "builder-imported-flow-runner")


def test_analytics_funnel_matches_the_api(page: Any, web: WebServer, admin: WebUser) -> None:
    template = create_template(
        web,
        admin,
        {
            "template_name": "funnel_demo",
            "trigger_keywords": ["funnel"],
            "menu_structure": {
                "start": "menu",
                "steps": [
                    {
                        "id": "menu",
                        "type": "buttons",
                        "text": "Shall we?",
                        "buttons": [
                            {"id": "yes", "label": "Yes", "next": "thanks"},
                            {"id": "no", "label": "No", "next": "bye"},
                        ],
                    },
                    {"id": "thanks", "type": "end", "text": "Great."},
                    {"id": "bye", "type": "end", "text": "Another time."},
                ],
            },
        },
    )
    for customer in ("15550000001", "15550000002", "15550000003"):
        says(web.url, customer, "funnel")
    taps(web.url, "15550000001", "yes")
    taps(web.url, "15550000002", "no")

    today = datetime.now(UTC).date()
    window = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}

    def funnel_from_api() -> dict[str, int]:
        with web.api(admin) as api:
            answer = api.get(f"/api/analytics/templates/{template['id']}", params=window)
            if answer.status_code == 404 and answer.json()["error"]["message"] == "Not Found":
                stats = api.get(f"/api/stats/templates/{template['id']}").json()
                return {step["step"]: step["reached"] for step in stats["funnel"]}
            steps = answer.json()["funnel"]["steps"]
            return {
                step.get("step", step.get("id")): step.get("visits", step.get("count", 0))
                for step in steps
            }

    wait_until(
        lambda: funnel_from_api().get("thanks") == 1 and funnel_from_api().get("bye") == 1,
        "two finished runs in the statistics",
    )
    expected = funnel_from_api()
    assert expected["menu"] == 3

    sign_in(page, web, admin)
    page.goto(f"/#/analytics/{template['id']}")
    table = page.get_by_test_id("table-funnel")
    table.locator("tbody tr").first.wait_for()
    shown = {}
    for row in table.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown[cells[0]] = int(cells[1])
    assert shown == expected
    assert page.get_by_test_id("kpi-started").inner_text().endswith("3")
    screenshot(page, "analytics")

    # The same visits on the builder's canvas.
    page.goto(f"/#/builder/{template['id']}")
    page.get_by_role("button", name="Funnel overlay").click()
    page.get_by_test_id("visits-menu").wait_for()
    assert page.get_by_test_id("visits-menu").inner_text() == f"{expected['menu']} visits"
    screenshot(page, "builder-funnel-overlay")


def test_a_second_user_cannot_see_a_private_template(
    page: Any, web: WebServer, admin: WebUser
) -> None:
    private = create_template(
        web,
        admin,
        {
            "template_name": "admins_secret_flow",
            "is_public": False,
            "menu_structure": {
                "start": "a",
                "steps": [{"id": "a", "type": "message", "text": "hi"}],
            },
        },
    )
    bob = web.user("bob")
    sign_in(page, web, bob)
    page.get_by_label("Search").fill("admins_secret")
    page.get_by_test_id("template-total").filter(has_text="No templates match").wait_for()
    assert page.get_by_role("link", name="admins_secret_flow").count() == 0
    page.goto(f"/#/builder/{private['id']}")
    page.locator(".error-box").wait_for()
    assert "does not exist" in page.locator(".error-box").inner_text()
    screenshot(page, "second-user-not-found")

    # Bob rates a built-in template and forks it: his copy opens in the builder, editable.
    page.goto("/#/templates")
    page.get_by_label("Search").fill("main_menu")
    row = page.get_by_test_id("template-row").filter(has_text="main_menu")
    row.get_by_role("button", name="4 stars").click()
    page.get_by_role("status").filter(has_text="You rated main_menu 4 of 5").wait_for()
    row.get_by_role("button", name="Fork").click()
    page.get_by_test_id("save").wait_for()
    assert page.get_by_test_id("save").is_enabled()
    with web.api(bob) as api:
        mine = api.get("/api/workflow-templates", params={"mine": "true"}).json()["items"]
    assert [item["template_name"] for item in mine] == [
        page.locator(".builder-bar h1").inner_text().split(" v")[0]
    ]


def test_settings_create_and_revoke_an_api_key(page: Any, web: WebServer, admin: WebUser) -> None:
    sign_in(page, web, admin)
    page.get_by_role("link", name="Settings").click()
    keys = page.get_by_test_id("keys")
    keys.get_by_label("Label").fill("from the browser")
    keys.get_by_role("button", name="Add").click()
    new_key = page.get_by_test_id("new-key").locator("code").inner_text()
    assert (
        httpx.get(f"{web.url}/api/me", headers={"Authorization": f"Bearer {new_key}"}).status_code
        == 200
    )
    row = keys.locator("tr", has_text="from the browser")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_text("revoked").wait_for()
    assert (
        httpx.get(f"{web.url}/api/me", headers={"Authorization": f"Bearer {new_key}"}).status_code
        == 401
    )
    screenshot(page, "settings")


#: What shows that a page has loaded its data.
LOADED = {
    "templates": lambda page: page.get_by_test_id("template-row").first,
    "inbox": lambda page: page.get_by_role("list", name="Conversations"),
    "analytics": lambda page: page.get_by_test_id("kpi-started"),
    "settings": lambda page: page.get_by_test_id("keys").locator("tbody tr").first,
}


@pytest.mark.parametrize("name", list(LOADED))
def test_each_page_fits_1280_by_800(page: Any, web: WebServer, admin: WebUser, name: str) -> None:
    sign_in(page, web, admin)
    page.goto(f"/#/{name}")
    LOADED[name](page).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, f"page-{name}")
