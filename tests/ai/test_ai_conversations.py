"""AI templates and steps over WhatsApp: tools, handoff, failures, limits, redaction."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.ai.conftest import CUSTOMER, MODEL, AiApp
from tests.ai.helpers import assistant, calls, create_template, instance, replies, text_of
from tests.support.llm_stub import text, tool_call
from tests.support.webhooks import eventually


async def test_handoff_goes_to_a_person_the_bot_stays_silent_until_released(
    ai_app: AiApp,
) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, **assistant())
    llm.answer(tool_call("handoff", {"reason": "asks for a person"}, content="One moment."))
    await app.says("assist")
    [moment] = await replies(app, 1)
    assert text_of(moment) == "One moment."

    conversation = (await app.api("GET", f"/api/conversations/{CUSTOMER}")).json()
    assert conversation["context"]["ai"]["phase"] == "handoff"
    assert conversation["context"]["ai"]["handoff_reason"] == "asks for a person"
    run = await instance(app)
    assert run.status == "waiting" and run.waiting_for == "agent"

    await app.says("hello? anyone?")
    await app.says("please")

    async def processed() -> bool:
        found = (await app.api("GET", "/api/messages", params={"direction": "in"})).json()
        return all(m["status"] == "processed" for m in found["items"]) and found["total"] == 3

    await eventually(processed, what="the messages to be processed")
    assert len(app.graph.sent) == 1 and len(llm.chats()) == 1  # silent, no model call

    released = await app.api("POST", f"/api/conversations/{CUSTOMER}/release")
    assert released.status_code == 200, released.text
    llm.answer(text("I'm back. How can I help?"))
    await app.says("thanks")
    [_, back] = await replies(app, 2)
    assert text_of(back) == "I'm back. How can I help?"
    heard = [m["content"] for m in llm.chats()[1].messages if m["role"] == "user"]
    assert heard == ["assist", "thanks"]  # what the person was told is theirs, not the bot's


async def test_model_errors_give_the_fallback_and_lose_nothing(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(
        app, **assistant(default_params={"llm": {"fallback_text": "Try again soon."}})
    )
    llm.fail(500, times=3)  # the first try and the SDK's two retries
    await app.says("assist")
    [fallback] = await replies(app, 1)
    assert text_of(fallback) == "Try again soon."
    assert len(llm.chats()) == 3

    llm.answer(text("Hello again!"))
    await app.says("are you there?")
    [_, answer] = await replies(app, 2)
    assert text_of(answer) == "Hello again!"
    heard = [m["content"] for m in llm.chats()[-1].messages if m["role"] == "user"]
    assert heard == ["assist", "are you there?"]
    recorded = await calls(app)
    assert [c.outcome for c in recorded] == ["error", "ok"]


async def test_a_model_timeout_gives_the_fallback(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, **assistant())
    for _ in range(3):  # the first try and the SDK's two retries, each past the 5 s timeout
        llm.slow(6.0, text("too late"))
    await app.says("assist")
    [fallback] = await replies(app, 1)
    assert "can't answer right now" in text_of(fallback)
    assert [c.outcome for c in await calls(app)] == ["timeout"]


async def test_invalid_tool_arguments_are_re_asked_at_most_twice(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(
        app, **assistant(state_schema={"age": {"type": "integer", "required": True}})
    )
    llm.answer(tool_call("reply", {"txt": "hi"}))  # a wrong argument name
    llm.answer(tool_call("no_such_tool", {}))
    llm.answer(tool_call("reply", {"text": "How old are you?", "choices": ["18", "30"]}))
    await app.says("assist")
    [asked] = await replies(app, 1)
    assert asked["interactive"]["type"] == "button"
    first_error = llm.chats()[1].messages[-1]["content"]
    assert "invalid arguments" in first_error and "text" in first_error
    assert "unknown tool 'no_such_tool'" in llm.chats()[2].messages[-1]["content"]

    llm.answer(tool_call("reply", "not json"))
    llm.answer(tool_call("handoff", {}))
    llm.answer(tool_call("reply", {}))
    await app.says("30")
    [_, fallback] = await replies(app, 2)
    assert "can't answer right now" in text_of(fallback)
    assert len(llm.chats()) == 6


async def test_limits_stop_the_model_with_the_fallback_and_a_handoff(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    params = {"llm": {"max_conversation_tokens": 100, "fallback_text": "A person will help."}}
    await create_template(app, **assistant(default_params=params))
    llm.answer(text("Hi!"), usage=(90, 20))
    await app.says("assist")
    await replies(app, 1)
    await app.says("more")
    [_, stopped] = await replies(app, 2)
    assert text_of(stopped) == "A person will help."
    assert len(llm.chats()) == 1
    conversation = (await app.api("GET", f"/api/conversations/{CUSTOMER}")).json()
    assert conversation["context"]["ai"]["phase"] == "handoff"
    assert "max_conversation_tokens" in conversation["context"]["ai"]["handoff_reason"]


async def test_the_daily_cost_cap_hands_over(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await app.api(
        "PUT",
        f"/api/llm/prices/{MODEL}",
        json={"input_per_million": 1000, "output_per_million": 1000},
    )
    await create_template(app, **assistant(default_params={"llm": {"daily_cost_cap": 0.1}}))
    llm.answer(text("Hi!"), usage=(100, 0))  # 0.1
    await app.says("assist")
    await replies(app, 1)
    await app.says("second customer message")
    [_, stopped] = await replies(app, 2)
    assert "team will get back to you" in text_of(stopped)
    assert (await instance(app)).status == "waiting"
    assert len(llm.chats()) == 1


async def test_personal_data_is_masked_for_the_model_and_stored_in_full(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    schema = {"email": {"type": "email", "required": True, "pii": True}}
    await create_template(
        app, **assistant(state_schema=schema, default_params={"llm": {"redact_pii": True}})
    )
    llm.answer(text("Your email, please?"))
    await app.says("assist")
    await replies(app, 1)
    llm.answer(tool_call("set_fields", {"email": "[PII_1]"}))
    llm.answer(text("Thanks, I noted [PII_1]."))
    await app.says("my mail is ana@example.com")
    [_, answer] = await replies(app, 2)
    assert text_of(answer) == "Thanks, I noted ana@example.com."
    sent = str(llm.chats()[1].json)
    assert "ana@example.com" not in sent and "[PII_1]" in sent
    conversation = (await app.api("GET", f"/api/conversations/{CUSTOMER}")).json()
    assert conversation["context"]["variables"]["email"] == "ana@example.com"


async def test_unknown_models_cost_nothing_and_are_flagged(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    created = await create_template(app, **assistant())
    llm.answer(text("Hi!"), usage=(1000, 500))
    await app.says("assist")
    await replies(app, 1)
    stats = (await app.api("GET", f"/api/stats/templates/{created['id']}")).json()
    assert stats["total_tokens_used"] == 1500 and stats["total_cost"] == 0
    assert stats["unpriced_models"] == [MODEL]
    run = await instance(app)
    usage = (await app.api("GET", f"/api/llm/instances/{run.id}")).json()
    assert usage == {
        "instance_id": run.id,
        "calls": 1,
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "cost": 0.0,
        "unpriced_models": [MODEL],
    }


async def test_prices_are_listed_in_the_page_envelope(ai_app: AiApp) -> None:
    app = ai_app
    for model, price in (("b-model", 2.0), ("a-model", 0.1)):
        answer = await app.api(
            "PUT",
            f"/api/llm/prices/{model}",
            json={"input_per_million": price, "output_per_million": price * 4},
        )
        assert answer.status_code == 200, answer.text
    await app.api(
        "PUT",
        "/api/llm/prices/a-model",
        json={"input_per_million": 0.15, "output_per_million": 0.6},
    )
    listed = (await app.api("GET", "/api/llm/prices", params={"limit": 1})).json()
    assert listed["total"] == 2 and listed["limit"] == 1 and listed["offset"] == 0
    [first] = listed["items"]
    assert (first["model"], first["input_per_million"], first["output_per_million"]) == (
        "a-model",
        0.15,
        0.6,
    )
    refused = await app.api(
        "PUT", "/api/llm/prices/x", json={"input_per_million": -1, "output_per_million": 0}
    )
    assert refused.status_code == 422


async def test_no_provider_gives_the_fallback_a_handoff_and_names_the_setting(
    database_url: str, graph_stub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from convoflow.services.access import setup
    from tests.support.webhooks import clean_app
    from tests.support.webhooks import text as inbound

    async with clean_app(database_url, graph_stub) as webhooks:
        key = await setup.create_key(webhooks.runtime.db_sessions, username="admin")
        headers = {"Authorization": f"Bearer {key}"}
        created = await webhooks.http.post(
            "/api/workflow-templates", json=assistant(), headers=headers
        )
        assert created.status_code == 201, created.text
        with caplog.at_level(logging.WARNING):
            await webhooks.send(inbound(CUSTOMER, "assist"))
            [fallback] = await graph_stub.wait_for_async(1, timeout=30)
        assert "team will get back to you" in str(fallback.text)
        assert "CONVOFLOW_LLM_BASE_URL" in caplog.text
        state = (await webhooks.http.get(f"/api/conversations/{CUSTOMER}", headers=headers)).json()
        assert state["context"]["ai"]["phase"] == "handoff"


async def test_the_webhook_is_acknowledged_while_the_model_is_slow(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, **assistant())
    llm.slow(4.0, text("Thought about it."))
    await app.says("assist")  # answered 200 (checked by `says`)
    assert app.graph.sent == []  # acknowledged before the model answered
    await llm.wait_for_async(1)
    [answer] = await replies(app, 1)
    assert text_of(answer) == "Thought about it."
