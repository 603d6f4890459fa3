"""Knowledge bases, admin-declared HTTP tools and AI steps inside a step graph."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.store.models import KnowledgeChunk
from tests.ai.conftest import AiApp, app_with_model
from tests.ai.helpers import assistant, create_template, replies, text_of
from tests.jobs.outside_api import OutsideApi
from tests.support.graph_stub import GraphStub
from tests.support.llm_stub import LlmStub, text, tool_call

HOURS = (
    "Opening hours\n\nOur shop on Main Street opens Monday to Friday from 9:00 to 18:00 "
    "and on Saturday from 10:00 to 14:00. We are closed on Sundays.\n\n"
    "Returns\n\nYou can return any item within 30 days with the receipt."
)


async def knowledge_base(app: AiApp, name: str = "faq") -> str:
    created = await app.api("POST", "/api/knowledge-bases", json={"name": name})
    assert created.status_code == 201, created.text
    base_id: str = created.json()["id"]
    return base_id


async def upload(app: AiApp, base_id: str, **document: Any) -> dict[str, Any]:
    answer = await app.api("POST", f"/api/knowledge-bases/{base_id}/documents", json=document)
    assert answer.status_code == 201, answer.text
    stored: dict[str, Any] = answer.json()
    return stored


async def chunk_count(app: AiApp) -> int:
    async with app.runtime.db_sessions() as db_session:
        return len(list(await db_session.scalars(select(KnowledgeChunk))))


async def ask_about_hours(app: AiApp) -> dict[str, Any]:
    """The customer asks; the model searches; what the search returned to the model."""
    app.llm.answer(text("Hello! What would you like to know?"))
    await app.says("assist")
    # Answered before the question: a message held before a turn calls the model joins it.
    await replies(app, 1)
    app.llm.answer(tool_call("search_knowledge", {"query": "when is the shop open on saturday"}))
    app.llm.answer(text("On Saturday we open from 10:00 to 14:00 (Opening hours)."))
    await app.says("when are you open on saturday?")
    [_, answer] = await replies(app, 2)
    assert text_of(answer).startswith("On Saturday we open")
    result: dict[str, Any] = json.loads(app.llm.chats()[2].messages[-1]["content"])
    return result


async def test_search_knowledge_answers_from_the_documents_without_embeddings(
    ai_app: AiApp,
) -> None:
    app = ai_app
    base_id = await knowledge_base(app)
    first = await upload(
        app, base_id, title="Shop guide", content=HOURS, content_type="text/markdown"
    )
    assert first["changed"] is True and first["chunks"] >= 1
    again = await upload(
        app, base_id, title="Shop guide", content=HOURS, content_type="text/markdown"
    )
    assert again["changed"] is False and again["id"] == first["id"]
    stored = await chunk_count(app)
    assert stored == first["chunks"]  # the same document again is not stored twice
    await create_template(app, **assistant(workflow_type="rag", required_retrievers=["faq"]))

    result = await ask_about_hours(app)
    [best, *_] = result["results"]
    assert best["source"] == "Shop guide" and "Saturday from 10:00 to 14:00" in best["text"]
    assert "search_knowledge" in app.llm.chats()[0].tool_names
    assert "never invent" in app.llm.chats()[0].messages[0]["content"]
    assert not [r for r in app.llm.requests if r.path.endswith("/embeddings")]

    changed = await upload(app, base_id, title="Shop guide", content=HOURS + "\n\nNew: gift cards.")
    assert changed["changed"] is True
    assert await chunk_count(app) == changed["chunks"]  # replaced, not added


async def test_nothing_relevant_is_said_to_the_model(ai_app: AiApp) -> None:
    app = ai_app
    base_id = await knowledge_base(app)
    await upload(app, base_id, title="Shop guide", content=HOURS)
    await create_template(app, **assistant(workflow_type="rag", required_retrievers=["faq"]))
    app.llm.answer(tool_call("search_knowledge", {"query": "quantum chromodynamics"}))
    app.llm.answer(text("I don't know, shall I ask a colleague?"))
    await app.says("assist")
    await replies(app, 1)
    result = json.loads(app.llm.chats()[1].messages[-1]["content"])
    assert result == {"results": [], "note": "nothing relevant found"}


@pytest.fixture
async def embedding_app(
    database_url: str, graph_stub: GraphStub, llm: LlmStub, outside_api: OutsideApi
) -> AsyncIterator[AiApp]:
    async with app_with_model(
        database_url, graph_stub, llm, outside_api, llm_embedding_model="stub-embed"
    ) as app:
        yield app


async def test_with_an_embedding_model_ranking_is_hybrid(embedding_app: AiApp) -> None:
    app = embedding_app
    base_id = await knowledge_base(app)
    await upload(app, base_id, title="Shop guide", content=HOURS)
    async with app.runtime.db_sessions() as db_session:
        vectors = list(await db_session.scalars(select(KnowledgeChunk.embedding)))
    assert vectors and all(isinstance(v, list) and len(v) == 32 for v in vectors)
    await create_template(app, **assistant(workflow_type="rag", required_retrievers=["faq"]))

    result = await ask_about_hours(app)
    assert result["results"][0]["source"] == "Shop guide"
    embedded = [r.json["input"] for r in app.llm.requests if r.path.endswith("/embeddings")]
    assert embedded[-1] == ["when is the shop open on saturday"]


async def test_an_http_tool_is_called_and_its_answer_goes_back(ai_app: AiApp) -> None:
    app = ai_app
    tool = {
        "name": "order_status",
        "description": "The status of an order",
        "parameters": {
            "type": "object",
            "properties": {"order": {"type": "string"}},
            "required": ["order"],
            "additionalProperties": False,
        },
        "url": app.outside.url + "/orders/{{order}}",
        "method": "GET",
        "headers": {"X-Api-Key": "secret-key"},
    }
    created = await app.api("POST", "/api/tools", json=tool)
    assert created.status_code == 201, created.text
    assert created.json()["headers"] == {"X-Api-Key": "[redacted]"}

    refused = await app.api(
        "POST",
        "/api/workflow-templates",
        json=assistant(workflow_type="plain", required_tools=["order_status", "nope"]),
    )
    assert refused.status_code == 422
    fields = {d["field"]: d["message"] for d in refused.json()["error"]["details"]}
    assert "allows no tools" in fields["required_tools[0]"]
    assert fields["required_tools[1]"] == "no tool named 'nope'"

    await create_template(app, **assistant(workflow_type="tools", required_tools=["order_status"]))
    app.llm.answer(tool_call("order_status", {"order": 7}))  # not a string: refused
    app.llm.answer(tool_call("order_status", {"order": "A-7"}))
    app.llm.answer(text("Your order A-7 has shipped."))
    await app.says("assist")
    [answer] = await replies(app, 1)
    assert text_of(answer) == "Your order A-7 has shipped."
    assert "order: expected string" in app.llm.chats()[1].messages[-1]["content"]
    [call] = app.outside.calls_to("/orders/A-7")
    assert call.method == "GET" and call.headers["x-api-key"] == "secret-key"
    assert json.loads(app.llm.chats()[2].messages[-1]["content"]) == {
        "status": 200,
        "body": {"status": "shipped"},
    }
    assert "order_status" in app.llm.chats()[0].tool_names


GRAPH = {
    "start": "welcome",
    "steps": [
        {"id": "welcome", "type": "message", "text": "How can we help?", "next": "sort"},
        {
            "id": "sort",
            "type": "ai_classify",
            "guidelines": "Sort the request.",
            "categories": [
                {"id": "order", "description": "About an order", "next": "number"},
                {"id": "billing", "description": "Invoices", "next": "billing"},
            ],
            "other": "chat",
            "on_failure": "human",
            "max_turns": 2,
        },
        {
            "id": "number",
            "type": "ai_extract",
            "fields": {"order_no": {"type": "integer", "required": True}},
            "next": "found",
            "on_failure": "human",
        },
        {"id": "found", "type": "end", "text": "Looking up order {{order_no}}."},
        {"id": "billing", "type": "end", "text": "Billing will write to you."},
        {"id": "chat", "type": "ai_reply", "next": "bye", "on_handoff": "human"},
        {"id": "bye", "type": "end", "text": "Bye!"},
        {"id": "human", "type": "handoff", "text": "A colleague will answer here."},
    ],
}


async def test_classify_and_extract_in_a_step_graph(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(
        app,
        name="desk",
        trigger_keywords=["desk"],
        guidelines="You work for Acme.",
        menu_structure=GRAPH,
    )
    await app.says("desk")
    [welcome] = await replies(app, 1)
    assert text_of(welcome) == "How can we help?"
    assert llm.chats() == []  # ai_classify waits for the customer's words

    llm.answer(tool_call("classify", {"category": "order"}))
    llm.answer(text("Which order number?"))
    await app.says("where is my order")
    [_, asked] = await replies(app, 2)
    assert text_of(asked) == "Which order number?"
    classify = llm.chats()[0]
    assert classify.messages[0]["content"].startswith("You work for Acme.\n\nSort the request.")
    assert classify.tool_names == ["classify", "handoff", "reply"]
    extract = llm.chats()[1]
    assert "set_fields" in extract.tool_names and "classify" not in extract.tool_names

    llm.answer(tool_call("set_fields", {"order_no": "12 34"}))  # not a whole number
    llm.answer(text("Sorry, the number only?"))
    await app.says("12 34")
    await replies(app, 3)
    llm.answer(tool_call("set_fields", {"order_no": 1234}))
    await app.says("1234")
    [*_, found] = await replies(app, 4)
    assert text_of(found) == "Looking up order 1234."


async def test_classify_other_and_unknown_categories_are_refused(ai_app: AiApp) -> None:
    app, llm = ai_app, ai_app.llm
    await create_template(app, name="desk", trigger_keywords=["desk"], menu_structure=GRAPH)
    await app.says("desk")
    await replies(app, 1)
    llm.answer(tool_call("classify", {"category": "weather"}))
    llm.answer(tool_call("classify", {"category": "other"}))
    llm.answer(text("Happy to chat!"))
    await app.says("nice weather")
    [_, chatted] = await replies(app, 2)
    assert text_of(chatted) == "Happy to chat!"
    assert "invalid arguments" in llm.chats()[1].messages[-1]["content"]
    assert llm.chats()[2].tool_names == ["finish", "handoff", "reply"]


async def test_templates_without_ai_never_call_the_model(ai_app: AiApp) -> None:
    app = ai_app
    await app.says("hi")  # the built-in main menu
    await replies(app, 1)
    assert app.llm.requests == []
