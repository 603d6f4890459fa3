"""Journeys on the live side: simulating a flow to its end beside the canvas, and answering
a handed-off customer from the inbox (the reply reaches the stand-in Graph API)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.graph_stub import GraphStub
from tests.web.canvas import node
from tests.web.conftest import screenshot, sign_in
from tests.web.server import WebServer, WebUser
from tests.web.test_journeys import create_template
from tests.web.whatsapp import says, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.web]


def test_simulate_a_flow_to_its_end(page: Any, web: WebServer, admin: WebUser) -> None:
    template = create_template(
        web,
        admin,
        {
            "template_name": "simulated_order",
            "trigger_keywords": ["simulate"],
            "menu_structure": {
                "start": "menu",
                "steps": [
                    {
                        "id": "menu",
                        "type": "buttons",
                        "text": "Coffee or tea?",
                        "buttons": [
                            {"id": "coffee", "label": "Coffee", "next": "size"},
                            {"id": "tea", "label": "Tea", "next": "size"},
                        ],
                    },
                    {
                        "id": "size",
                        "type": "list",
                        "text": "Which size?",
                        "button": "Sizes",
                        "sections": [
                            {
                                "rows": [
                                    {"id": "small", "title": "Small", "next": "name"},
                                    {"id": "large", "title": "Large", "next": "name"},
                                ]
                            }
                        ],
                    },
                    {
                        "id": "name",
                        "type": "ask",
                        "field": "name",
                        "prompt": "Your name?",
                        "next": "done",
                    },
                    {"id": "done", "type": "end", "text": "Thanks {{name}}, it is on its way."},
                ],
            },
        },
    )
    sign_in(page, web, admin)
    page.goto(f"/#/builder/{template['id']}")
    node(page, "menu").wait_for()
    page.get_by_test_id("tab-simulator").click()
    page.get_by_test_id("sim-start").click()
    log = page.get_by_test_id("sim-log")
    log.get_by_text("Coffee or tea?").wait_for()
    assert "current" in (node(page, "menu").get_attribute("class") or "")
    log.get_by_role("button", name="Coffee").click()
    log.get_by_role("button", name="Sizes").click()
    log.get_by_role("option", name="Large").click()
    log.get_by_text("Your name?").wait_for()
    assert "current" in (node(page, "name").get_attribute("class") or "")
    page.get_by_label("Message").fill("Ana")
    page.get_by_role("button", name="Send").click()
    log.get_by_text("Thanks Ana, it is on its way.").wait_for()
    page.get_by_test_id("sim-finished").wait_for()
    screenshot(page, "builder-simulator")


def test_answer_a_handed_off_customer_from_the_inbox(
    page: Any, web: WebServer, admin: WebUser, web_stub: GraphStub
) -> None:
    create_template(
        web,
        admin,
        {
            "template_name": "talk_to_us",
            "trigger_keywords": ["agent"],
            "menu_structure": {
                "start": "human",
                "steps": [
                    {
                        "id": "human",
                        "type": "handoff",
                        "text": "A person will answer here.",
                        "next": "after",
                    },
                    {"id": "after", "type": "end", "text": "Back with the bot."},
                ],
            },
        },
    )
    customer = "15550000099"
    sign_in(page, web, admin)
    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("form", name="Filter conversations").wait_for()
    says(web.url, customer, "agent")
    conversation = page.get_by_test_id("conversation").filter(has_text=customer)
    conversation.wait_for(timeout=30_000)
    conversation.click()
    page.get_by_test_id("thread").get_by_text("A person will answer here.").wait_for()
    page.get_by_label("Reply").fill("Hello Ana, this is Sam.")
    page.get_by_role("button", name="Send").click()
    wait_until(
        lambda: any(
            request.text == "Hello Ana, this is Sam." and (request.to or "").lstrip("+") == customer
            for request in web_stub.sent
        ),
        "the agent's reply at the Graph API",
    )
    page.get_by_test_id("thread").get_by_text("Hello Ana, this is Sam.").wait_for()
    screenshot(page, "inbox")
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot(page, "inbox-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("release").click()
    page.get_by_role("status").filter(has_text="Given back to the bot").wait_for()
