"""CONVOFLOW_LLM_DEBOUNCE_MS: a customer's fragments go to the model in one call.

The app runs on a fake clock, so the debounce window ends when the test moves the clock,
never because the machine was quick or slow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from convoflow.clock import FakeClock
from convoflow.store.models import WhatsAppMessage, WorkflowEffect
from tests.ai.conftest import AiApp, app_with_model
from tests.ai.helpers import assistant, create_template, replies, text_of
from tests.jobs.outside_api import OutsideApi
from tests.support.graph_stub import GraphStub
from tests.support.llm_stub import LlmStub, text
from tests.support.webhooks import eventually

DEBOUNCE_MS = 800


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def held_app(
    database_url: str,
    graph_stub: GraphStub,
    llm: LlmStub,
    outside_api: OutsideApi,
    clock: FakeClock,
) -> AsyncIterator[AiApp]:
    async with app_with_model(
        database_url, graph_stub, llm, outside_api, clock=clock, llm_debounce_ms=DEBOUNCE_MS
    ) as app:
        yield app


async def processed_inbound(app: AiApp) -> list[str]:
    """The texts of the processed inbound messages, in arrival order."""
    async with app.runtime.db_sessions() as db_session:
        rows = await db_session.scalars(
            select(WhatsAppMessage)
            .where(WhatsAppMessage.direction == "in", WhatsAppMessage.status == "processed")
            .order_by(WhatsAppMessage.id)
        )
        return [row.payload["text"]["body"] for row in rows]


async def test_fragments_within_the_window_go_to_the_model_in_one_call(
    held_app: AiApp, clock: FakeClock
) -> None:
    app, llm = held_app, held_app.llm
    await create_template(app, **assistant())
    fragments = ["assist", "I would like", "a loan of 5000", "for a car"]
    for fragment in fragments:
        await app.says(fragment)  # each webhook is acknowledged while the turn is held

    async def all_processed() -> bool:
        return await processed_inbound(app) == fragments

    await eventually(all_processed, what="every fragment to be processed")
    assert llm.chats() == []  # the window has not ended: nothing went to the model

    llm.answer(text("Happy to help with a car loan of 5000."))
    clock.advance(DEBOUNCE_MS / 1000.0)
    [answer] = await replies(app, 1)
    assert text_of(answer) == "Happy to help with a car loan of 5000."

    [call] = llm.chats()
    heard = [m["content"] for m in call.messages if m["role"] == "user"]
    assert heard == fragments  # every fragment, in order, in the one call
    async with app.runtime.db_sessions() as db_session:
        effects = list(await db_session.scalars(select(WorkflowEffect)))
    assert [(e.kind, e.status) for e in effects] == [("llm", "done")]  # no second turn
    conversation = (await app.api("GET", "/api/conversations/15550004444")).json()
    memory = conversation["context"]["ai"]
    assert memory["pending"] == []
    assert [entry["content"] for entry in memory["transcript"]] == [
        *fragments,
        "Happy to help with a car loan of 5000.",
    ]
