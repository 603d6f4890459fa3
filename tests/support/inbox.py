"""Helpers of the inbox and analytics tests: an admin key, replies at the stand-in Graph
API, and a settled message path."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from convoflow.services.access import setup
from convoflow.store.models import WhatsAppMessage
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.webhooks import WebhookClient, eventually


async def admin_headers(client: WebhookClient) -> dict[str, str]:
    """The Authorization header of a new API key of ``admin`` (who owns the env number)."""
    key = await setup.create_key(client.runtime.db_sessions, username="admin")
    return {"Authorization": f"Bearer {key}"}


def sent_to(stub: GraphStub, customer: str) -> list[RecordedRequest]:
    """Messages the stand-in accepted for ``customer`` (sent as ``+<digits>``)."""
    return [m for m in stub.sent if (m.to or "").lstrip("+") == customer]


async def replies(stub: GraphStub, customer: str, count: int) -> list[RecordedRequest]:
    """Wait until ``count`` messages reached ``customer``; return them all."""

    async def arrived() -> bool:
        return len(sent_to(stub, customer)) >= count

    await eventually(arrived, what=f"{count} messages to {customer}")
    return sent_to(stub, customer)


async def settled(client: WebhookClient) -> None:
    """Wait until no inbound message is pending and no outbound one is queued."""

    async def nothing_pending() -> bool:
        async with client.runtime.db_sessions() as db_session:
            pending = await db_session.scalar(
                select(func.count()).where(WhatsAppMessage.status.in_(("received", "queued")))
            )
        return pending == 0

    await eventually(nothing_pending, what="the message path to settle")


async def api_json(
    client: WebhookClient, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> Any:
    """Call the admin API; the answer must be a 2xx with JSON."""
    response: httpx.Response = await client.http.request(method, path, headers=headers, **kwargs)
    assert response.is_success, response.text
    return response.json()
