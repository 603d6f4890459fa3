"""Creating AI templates through the API and reading what happened."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from convoflow.store.models import LlmCall, WorkflowInstance
from tests.ai.conftest import AiApp


async def create_template(app: AiApp, **fields: Any) -> dict[str, Any]:
    """POST a template as admin (it must be accepted)."""
    response = await app.api("POST", "/api/workflow-templates", json=fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assistant(name: str = "helper", trigger: str = "assist", **fields: Any) -> dict[str, Any]:
    """An AI template: guidelines and no graph."""
    body: dict[str, Any] = {
        "name": name,
        "guidelines": "Help the customer kindly.",
        "trigger_keywords": [trigger],
    }
    body.update(fields)
    return body


def text_of(message: dict[str, Any]) -> str:
    """The text a customer sees first in a message object."""
    if message["type"] == "text":
        return str(message["text"]["body"])
    return str(message["interactive"]["body"]["text"])


async def replies(app: AiApp, count: int) -> list[dict[str, Any]]:
    """The first ``count`` messages sent to the Graph API (waiting for them)."""
    return [request.json for request in await app.graph.wait_for_async(count, timeout=30)]


async def calls(app: AiApp) -> list[LlmCall]:
    async with app.runtime.db_sessions() as db_session:
        query = select(LlmCall).order_by(LlmCall.created_at, LlmCall.id)
        return list(await db_session.scalars(query))


async def instance(app: AiApp) -> WorkflowInstance:
    async with app.runtime.db_sessions() as db_session:
        return (await db_session.scalars(select(WorkflowInstance))).one()
