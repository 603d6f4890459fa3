"""How fast the app loads with a lot in it: the template list with 1,000 templates, the
builder with a 200-step flow. Printed for the report, never asserted (the machine is shared)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.web.conftest import screenshot, sign_in
from tests.web.server import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.web]


def test_measure_the_template_list_and_a_200_step_builder(page: Any, web: WebServer) -> None:
    many = web.user("carol")
    with web.api(many) as api:
        for number in range(1000):
            response = api.post(
                "/api/workflow-templates",
                json={
                    "template_name": f"bulk_{number:04d}",
                    "category": "bulk",
                    "tags": ["bulk"],
                    "menu_structure": {
                        "start": "a",
                        "steps": [{"id": "a", "type": "message", "text": "hi"}],
                    },
                },
            )
            assert response.status_code == 201, response.text
        steps = [
            {
                "id": f"step_{index:03d}",
                "type": "message",
                "text": f"Message {index}",
                **({"next": f"step_{index + 1:03d}"} if index < 199 else {}),
            }
            for index in range(200)
        ]
        big = api.post(
            "/api/workflow-templates",
            json={
                "template_name": "two_hundred_steps",
                "menu_structure": {"start": "step_000", "steps": steps},
            },
        ).json()
    sign_in(page, web, many)

    started = time.perf_counter()
    page.goto("/#/templates?reload")
    page.reload()
    page.get_by_test_id("template-total").filter(has_text=re.compile(r"of 10\d\d$")).wait_for()
    list_seconds = time.perf_counter() - started
    screenshot(page, "templates-1000")

    started = time.perf_counter()
    page.goto(f"/#/builder/{big['id']}")
    page.get_by_test_id("node-step_199").wait_for(state="attached")
    page.locator(".vue-flow__edge").nth(198).wait_for(state="attached")
    builder_seconds = time.perf_counter() - started
    nodes = page.locator(".vue-flow__node").count()
    screenshot(page, "builder-200-steps")
    print(f"\ntemplate list, 1,000+ templates (first page of 50): {list_seconds:.2f} s")
    print(f"builder, 200 steps ({nodes} nodes, auto-laid out): {builder_seconds:.2f} s")
