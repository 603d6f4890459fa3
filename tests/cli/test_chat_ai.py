"""`convoflow chat` runs AI templates: the specification's loan application completed in
free text.

The template is created through the admin API, then `convoflow chat` runs as a user would
(a subprocess reading piped lines) against the stand-in OpenAI-compatible server.
(`convoflow chat` seeds the built-ins again, which would write the built-in
loan_application back over an edit of it: the AI template gets a name and trigger of its
own here.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from convoflow.services.access import setup
from convoflow.store import migrate
from convoflow.store.database import create_db_session_factory, create_engine
from convoflow.store.models import WorkflowEffect, WorkflowInstance
from tests.ai.test_loan_application import LOAN
from tests.cli.test_chat_and_validate import chat
from tests.jobs.outside_api import OutsideApi
from tests.support.llm_stub import LlmStub, text, tool_call
from tests.support.webhooks import app_settings, running_app

MODEL = "stub-model"
#: The specification's loan application, under a name and trigger of its own.
LOAN_AI: dict[str, Any] = {**LOAN, "name": "personal_loan", "trigger_keywords": ["borrow"]}


async def create_ai_loan(database_url: str, endpoint: str) -> None:
    """POST the AI loan template as admin."""
    async with running_app(app_settings(database_url)) as client:
        key = await setup.create_key(client.runtime.db_sessions, username="admin")
        body = {**LOAN_AI, "end_action_target": {"endpoint": endpoint, "method": "POST"}}
        saved = await client.http.post(
            "/api/workflow-templates", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert saved.status_code == 201, saved.text


def test_chat_completes_an_ai_loan_application_in_free_text(
    tmp_path: Path, outside_api: OutsideApi
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    migrate.upgrade(database_url)
    asyncio.run(create_ai_loan(database_url, outside_api.url + "/applications"))
    with LlmStub() as llm:
        llm.answer(text("Hi! How much would you like to borrow, and what for?"))
        llm.answer(tool_call("set_fields", {"amount": 90000, "purpose": "a car"}))
        llm.answer(text("Sorry, we lend at most 50,000. How much do you need?"))
        llm.answer(tool_call("set_fields", {"amount": "40,000"}, ("finish", {})))
        output = chat(
            database_url,
            "borrow\nI need 90000 for a car\nmake that 40,000\nConfirm\n",
            settings={"CONVOFLOW_LLM_BASE_URL": llm.url, "CONVOFLOW_LLM_MODEL": MODEL},
        )
        chats = llm.chats()
    assert "bot: Hi! How much would you like to borrow, and what for?" in output
    assert "bot: Sorry, we lend at most 50,000. How much do you need?" in output
    # The engine's summary, with its buttons numbered as the chat shows options.
    assert "Amount: 40000" in output and "Purpose: a car" in output
    assert "  1. Confirm" in output and "  2. Change" in output
    # Each reply came before the next line was read: the transcript is in order.
    assert output.index("> I need 90000") < output.index("bot: Sorry, we lend")
    assert output.index("bot: Sorry, we lend") < output.index("> make that 40,000")
    assert len(chats) == 4
    assert chats[0].messages[-1] == {"role": "user", "content": "borrow"}
    # The run is complete; its end action is queued for the background jobs (a chat does
    # not wait for an outside system).
    instance, end_action = asyncio.run(run_and_end_action(database_url))
    assert instance.status == "completed"
    assert instance.state_data == {"amount": 40000, "purpose": "a car"}
    assert (end_action.kind, end_action.status) == ("end_action", "pending")
    assert end_action.spec["state_data"] == {"amount": 40000, "purpose": "a car"}
    assert end_action.spec["target"]["endpoint"] == outside_api.url + "/applications"
    assert outside_api.calls == []


async def run_and_end_action(database_url: str) -> tuple[WorkflowInstance, WorkflowEffect]:
    engine = create_engine(database_url)
    try:
        async with create_db_session_factory(engine)() as db_session:
            instance = (await db_session.scalars(select(WorkflowInstance))).one()
            effects = await db_session.scalars(
                select(WorkflowEffect).where(WorkflowEffect.kind != "llm")
            )
            return instance, effects.one()
    finally:
        await engine.dispose()
