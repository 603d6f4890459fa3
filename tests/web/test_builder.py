"""Building a flow in the browser: drag steps onto the canvas, connect them, see the API's
validation problem on the right node and field, save, publish, and check it through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.canvas import connect, drop_step, node, select
from tests.web.conftest import screenshot, sign_in
from tests.web.server import WebServer, WebUser
from tests.web.whatsapp import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.web]


def latest_named(web: WebServer, user: WebUser, name: str) -> dict[str, Any]:
    """The user's template of that name, in full, as the API answers it."""
    with web.api(user) as api:
        page = api.get("/api/workflow-templates", params={"mine": "true", "q": name}).json()
        (summary,) = [item for item in page["items"] if item["template_name"] == name]
        template: dict[str, Any] = api.get(f"/api/workflow-templates/{summary['id']}").json()
        return template


def test_build_a_three_step_flow_from_nothing(page: Any, web: WebServer, admin: WebUser) -> None:
    sign_in(page, web, admin)
    screenshot(page, "templates")
    page.get_by_role("link", name="New template").click()
    page.locator(".palette").wait_for()

    drop_step(page, "message", 120, 80)
    drop_step(page, "ask", 120, 260)
    drop_step(page, "end", 120, 440)
    for step_id in ("message", "ask", "end"):
        node(page, step_id).wait_for()
    connect(page, "message", "next", "ask")
    connect(page, "ask", "next", "end")
    page.locator(".vue-flow__edge").nth(1).wait_for()
    assert page.locator(".vue-flow__edge").count() == 2

    page.get_by_test_id("tab-template").click()
    page.get_by_label("Name", exact=True).fill("three_steps")
    page.get_by_label("Trigger keywords").fill("three")

    # A choice question without options: the API refuses it, naming the step.
    select(page, "ask")
    page.get_by_label("Input (optional)").select_option("choice")
    page.get_by_test_id("save").click()
    problems = page.get_by_test_id("problems-ask")
    problems.wait_for()
    assert "needs options" in problems.inner_text()
    assert page.get_by_test_id("problems-message").count() == 0
    assert node(page, "ask").get_attribute("class") is not None
    assert "invalid" in (node(page, "ask").get_attribute("class") or "")
    screenshot(page, "builder-validation-error")

    page.get_by_label("Input (optional)").select_option("string")
    page.get_by_test_id("save").click()
    page.get_by_test_id("builder-status").filter(has_text="Saved").wait_for()
    screenshot(page, "builder")

    saved = latest_named(web, admin, "three_steps")
    graph = saved["menu_structure"]
    steps = {step["id"]: step for step in graph["steps"]}
    assert graph["start"] == "message"
    assert steps["message"]["next"] == "ask"
    assert steps["ask"]["next"] == "end"
    assert steps["end"]["type"] == "end"
    assert steps["message"]["position"]["y"] < steps["ask"]["position"]["y"]
    assert steps["ask"]["position"]["y"] < steps["end"]["position"]["y"]
    assert saved["trigger_keywords"] == ["three"]

    # Publish a new version with a changelog; the API lists it.
    select(page, "message")
    page.get_by_label("Text", exact=True).fill("Welcome to the three steps!")
    page.get_by_test_id("publish").click()
    page.get_by_label("What changed").fill("a warmer welcome")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_test_id("builder-status").filter(has_text="Published").wait_for()
    with web.api(admin) as api:
        versions = api.get(f"/api/workflow-templates/{saved['id']}/versions").json()["items"]
    assert versions[0]["changelog"] == "a warmer welcome"
    published = latest_named(web, admin, "three_steps")
    texts = {step["id"]: step.get("text") for step in published["menu_structure"]["steps"]}
    assert texts["message"] == "Welcome to the three steps!"

    # The history shows what changed, and restores version 1 as a new version.
    page.get_by_test_id("tab-versions").click()
    newest = page.get_by_test_id("version").first
    newest.get_by_role("button", name="Changes").click()
    diff = newest.get_by_test_id("diff")
    diff.wait_for()
    assert "message" in diff.inner_text()
    assert "Welcome to the three steps!" in diff.inner_text()
    screenshot(page, "builder-versions")
    page.get_by_role("button", name="Restore v1").click()

    def restored() -> bool:
        latest = latest_named(web, admin, "three_steps")
        return latest["version"] == published["version"] + 1

    wait_until(restored, "the restored version")
    latest = latest_named(web, admin, "three_steps")
    assert latest["changelog"] == "Restored version 1"
    texts = {step["id"]: step.get("text") for step in latest["menu_structure"]["steps"]}
    assert texts["message"] == "Hello!"


def test_copy_paste_undo_redo_and_auto_layout(page: Any, web: WebServer, admin: WebUser) -> None:
    sign_in(page, web, admin)
    page.goto("/#/builder/new")
    drop_step(page, "message", 120, 80)
    drop_step(page, "end", 420, 300)
    connect(page, "message", "next", "end")
    page.locator(".vue-flow__edge").first.wait_for()

    select(page, "message")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    node(page, "message_copy").wait_for()
    page.keyboard.press("Control+z")
    node(page, "message_copy").wait_for(state="detached")
    page.keyboard.press("Control+Shift+z")
    node(page, "message_copy").wait_for()

    before = node(page, "end").bounding_box()
    page.get_by_role("button", name="Auto-layout").click()
    page.wait_for_function(
        "([id, x]) => { const box = document.querySelector(`[data-testid=node-${id}]`)"
        ".getBoundingClientRect(); return Math.abs(box.x - x) > 1; }",
        arg=["end", before["x"] if before else 0],
    )
    message, end = node(page, "message").bounding_box(), node(page, "end").bounding_box()
    assert message and end and message["x"] + message["width"] < end["x"]  # left to right


def test_a_lost_session_keeps_the_unsaved_flow(page: Any, web: WebServer, admin: WebUser) -> None:
    sign_in(page, web, admin)
    page.goto("/#/builder/new")
    drop_step(page, "message", 150, 120)
    node(page, "message").wait_for()
    page.get_by_test_id("tab-template").click()
    page.get_by_label("Name", exact=True).fill("kept_across_sign_in")

    # The session ends behind the app's back.
    if admin.password is not None:
        page.context.clear_cookies()
    else:
        with web.api(admin) as api:
            keys = api.get("/api/keys", params={"limit": 200}).json()["items"]
            (mine,) = [key for key in keys if admin.key.startswith(key["prefix"])]
            assert api.delete(f"/api/keys/{mine['id']}").status_code == 204
        admin.key = web.user("admin").key  # a fresh key for the rest of the run
    page.get_by_test_id("save").click()
    page.get_by_text("Your session ended").wait_for()

    if admin.password is not None:
        page.get_by_label("User name").fill(admin.name)
        page.get_by_label("Password").fill(admin.password)
    else:
        page.get_by_label("API key").fill(admin.key)
    page.get_by_role("button", name="Sign in").click()
    node(page, "message").wait_for()
    page.get_by_text("Unsaved changes from this browser were restored").wait_for()
    page.get_by_test_id("tab-template").click()
    assert page.get_by_label("Name", exact=True).input_value() == "kept_across_sign_in"
