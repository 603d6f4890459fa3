"""The specification's loan_application as an AI template, over WhatsApp, end to end.

Signed webhooks go to the app, the model is the stand-in OpenAI-compatible server, replies
go to the stand-in Graph API and the end action to the stand-in outside API.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from convoflow.store.models import LlmCall, WorkflowInstance, WorkflowTemplate
from tests.ai.conftest import CUSTOMER, MODEL, AiApp
from tests.support.llm_stub import text, tool_call
from tests.support.webhooks import button_reply, eventually

LOAN: dict[str, Any] = {
    "name": "loan_application",
    "description": "Personal loan application",
    "category": "fintech",
    "guidelines": "Guide the applicant through the loan application. "
    "Ask for the amount and the purpose.",
    "state_schema": {
        "amount": {"type": "number", "required": True, "min": 100, "max": 50000},
        "purpose": {"type": "string", "required": True},
    },
    "end_action_type": "api_call",
    "trigger_keywords": ["loan"],
    "workflow_type": "plain",
    "is_active": True,
}


async def replies(app: AiApp, count: int) -> list[dict[str, Any]]:
    sent = await app.graph.wait_for_async(count, timeout=30)
    return [request.json for request in sent]


def body_text(message: dict[str, Any]) -> str:
    if message["type"] == "text":
        return str(message["text"]["body"])
    return str(message["interactive"]["body"]["text"])


async def test_admin_makes_the_builtin_an_ai_template_and_a_customer_completes_it(
    ai_app: AiApp,
) -> None:
    app, llm = ai_app, ai_app.llm
    await app.api(
        "PUT",
        "/api/llm/prices/" + MODEL,
        json={"input_per_million": 0.5, "output_per_million": 1.5},
    )
    listed = (await app.api("GET", "/api/workflow-templates", params={"search": "loan"})).json()
    builtin = next(t for t in listed["items"] if t["template_name"] == "loan_application")
    body = {
        **LOAN,
        "menu_structure": None,
        "end_action_target": {"endpoint": app.outside.url + "/applications", "method": "POST"},
    }
    saved = await app.api("PUT", f"/api/workflow-templates/{builtin['id']}", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2

    # 1. The trigger gets a greeting that follows the guidelines.
    llm.answer(text("Hi! How much would you like to borrow, and what for?"), usage=(100, 20))
    await app.says("loan")
    [greeting] = await replies(app, 1)
    assert body_text(greeting) == "Hi! How much would you like to borrow, and what for?"
    [first] = llm.chats()
    system = first.messages[0]["content"]
    assert system.startswith("Guide the applicant through the loan application.")
    assert first.messages[-1] == {"role": "user", "content": "loan"}
    assert {"set_fields", "finish", "handoff", "reply"} <= set(first.tool_names)
    assert "search_knowledge" not in first.tool_names

    # 2. Two fields in one message, one of them invalid: only the valid one is stored and
    #    the model hears why the other was refused.
    llm.answer(tool_call("set_fields", {"amount": 90000, "purpose": "a car"}), usage=(150, 10))
    llm.answer(text("Sorry, we lend at most 50,000. How much do you need?"), usage=(170, 12))
    await app.says("I need 90000 for a car")
    [_, reask] = await replies(app, 2)
    assert "at most 50,000" in body_text(reask)
    tool_result = llm.chats()[2].messages[-1]
    assert tool_result["role"] == "tool"
    assert '"purpose": "a car"' in tool_result["content"]
    assert "amount" in tool_result["content"] and "between 100 and 50000" in tool_result["content"]

    # 3. The correction fills the last field; finish → the engine's summary.
    llm.answer(tool_call("set_fields", {"amount": "40,000"}, ("finish", {})), usage=(190, 14))
    await app.says("make that 40,000")
    [*_, summary] = await replies(app, 3)
    assert summary["type"] == "interactive"
    assert "Amount: 40000" in body_text(summary) and "Purpose: a car" in body_text(summary)
    buttons = summary["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Confirm", "Change"]

    # 4. Confirm completes the run: the end action receives the amount and the purpose.
    await app.webhooks.send(button_reply(CUSTOMER, "confirm", "Confirm"))

    async def posted() -> bool:
        return bool(app.outside.calls_to("/applications"))

    await eventually(posted, what="the end action")
    [hook] = app.outside.calls_to("/applications")
    assert hook.json["state_data"] == {"amount": 40000, "purpose": "a car"}
    assert hook.json["template_version"] == 2

    async with app.runtime.db_sessions() as db_session:
        instance = (await db_session.scalars(select(WorkflowInstance))).one()
        calls = list(
            await db_session.scalars(select(LlmCall).order_by(LlmCall.created_at, LlmCall.id))
        )
        template = await db_session.get(WorkflowTemplate, instance.template_id)
    assert instance.status == "completed"
    assert [(c.prompt_tokens, c.completion_tokens) for c in calls] == [
        (100, 20),
        (150, 10),
        (170, 12),
        (190, 14),
    ]
    assert all(c.instance_id == instance.id and c.model == MODEL and c.priced for c in calls)
    tokens = 100 + 20 + 150 + 10 + 170 + 12 + 190 + 14
    cost = ((100 + 150 + 170 + 190) * 0.5 + (20 + 10 + 12 + 14) * 1.5) / 1_000_000
    assert sum(c.cost for c in calls) == pytest.approx(cost, rel=1e-12)
    assert template is not None and template.total_tokens_used == tokens
    assert template.avg_tokens_per_use == tokens  # one run called the model

    stats = (await app.api("GET", f"/api/stats/templates/{instance.template_id}")).json()
    assert stats["total_tokens_used"] == tokens
    assert stats["total_cost"] == pytest.approx(cost, rel=1e-12)
    assert stats["avg_tokens_per_use"] == tokens
    assert stats["llm_calls"] == 4 and stats["unpriced_models"] == []
    assert [day["tokens"] for day in stats["llm_daily"]] == [tokens]
    analytics = (await app.api("GET", f"/api/analytics/templates/{instance.template_id}")).json()
    assert analytics["llm"]["tokens"] == tokens
    assert analytics["llm"]["cost"] == pytest.approx(cost, rel=1e-12)
