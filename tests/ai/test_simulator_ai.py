"""The builder's simulator runs AI templates: each answer carries the model's replies."""

from __future__ import annotations

from typing import Any

from tests.ai.conftest import AiApp
from tests.ai.helpers import assistant, create_template
from tests.support.llm_stub import text, tool_call

SESSIONS = "/api/simulator/sessions"


def texts(turn: dict[str, Any]) -> list[str]:
    return [str(message["text"]) for message in turn["messages"]]


async def test_the_simulator_shows_the_model_replies_and_the_summary(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    template = await create_template(
        app,
        **assistant(
            state_schema={
                "amount": {"type": "number", "required": True},
                "purpose": {"type": "string", "required": True},
            }
        ),
    )
    llm.answer(text("Hello! How much would you like to borrow?"))
    opened = await app.api("POST", SESSIONS, json={"template_id": template["id"]})
    assert opened.status_code == 201, opened.text
    assert texts(opened.json()) == ["Hello! How much would you like to borrow?"]

    session = opened.json()["id"]
    llm.answer(tool_call("set_fields", {"amount": 5000, "purpose": "a bike"}, ("finish", {})))
    said = await app.api("POST", f"{SESSIONS}/{session}/messages", json={"text": "5000 for a bike"})
    assert said.status_code == 200, said.text
    [summary] = said.json()["messages"]
    assert summary["kind"] == "buttons"
    assert "Amount: 5000" in summary["text"] and "Purpose: a bike" in summary["text"]
    assert [button["title"] for button in summary["buttons"]] == ["Confirm", "Change"]
    assert len(llm.chats()) == 2
    assert app.graph.sent == []  # nothing of a simulated customer reaches WhatsApp
