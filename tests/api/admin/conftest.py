"""An app on a clean, seeded database, driven through its lifespan by an async client.

Three platform users: ``admin`` (owns the built-in templates), ``alice`` and ``bob``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from convoflow.api.app import create_app
from convoflow.runtime import Runtime
from convoflow.services.access import setup
from convoflow.store.database import create_engine
from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub

USERS = ("alice", "bob")
END_ACTION_SECRET = "end-action-test-secret"
BUSINESS_NUMBER = "15550000000"
#: A secret key for the token cipher: the API tests store encrypted tokens.
SECRET_KEY = "admin-api-test-secret-key"


@dataclass
class AdminApi:
    """The app, its runtime, and one API key per user."""

    app: FastAPI
    client: httpx.AsyncClient
    runtime: Runtime
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str | None = "alice") -> dict[str, str]:
        """The Authorization header of ``user`` (none for None)."""
        return {"Authorization": f"Bearer {self.keys[user]}"} if user else {}

    async def call(
        self, method: str, path: str, *, user: str | None = "alice", **kwargs: Any
    ) -> httpx.Response:
        """Send a request as ``user``."""
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, *, user: str | None = "alice", **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, user=user, **kwargs)

    async def post(self, path: str, *, user: str | None = "alice", **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, user=user, **kwargs)

    async def put(self, path: str, *, user: str | None = "alice", **kwargs: Any) -> httpx.Response:
        return await self.call("PUT", path, user=user, **kwargs)

    async def patch(
        self, path: str, *, user: str | None = "alice", **kwargs: Any
    ) -> httpx.Response:
        return await self.call("PATCH", path, user=user, **kwargs)

    async def delete(
        self, path: str, *, user: str | None = "alice", **kwargs: Any
    ) -> httpx.Response:
        return await self.call("DELETE", path, user=user, **kwargs)


@pytest.fixture
async def api(database_url: str, graph_stub: GraphStub) -> AsyncIterator[AdminApi]:
    """The admin API on a clean database (built-ins seeded), cleaned again afterwards.

    WhatsApp messages go to the stand-in Graph API from business number ``BUSINESS_NUMBER``.
    """
    await _clean(database_url)
    settings = make_settings(
        database_url,
        end_action_secret=END_ACTION_SECRET,
        whatsapp_api_base=graph_stub.url,
        whatsapp_access_token=graph_stub.access_token,
        whatsapp_phone_number_id=BUSINESS_NUMBER,
        secret_key=SECRET_KEY,
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            runtime: Runtime = app.state.runtime
            await setup.seed(runtime.db_sessions)
            keys = {"admin": await setup.create_key(runtime.db_sessions, username="admin")}
            for user in USERS:
                keys[user] = await setup.create_user_with_key(runtime.db_sessions, username=user)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield AdminApi(app=app, client=client, runtime=runtime, keys=keys)
    finally:
        await _clean(database_url)


async def _clean(database_url: str) -> None:
    """Remove every row (outside the app: its background jobs are stopped by then)."""
    engine = create_engine(database_url)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()


async def connect_number(
    api: AdminApi, phone_number_id: str, *, user: str = "alice", **fields: Any
) -> dict[str, Any]:
    """Register a WhatsApp number for ``user`` (with an encrypted token unless told)."""
    body = {"phone_number_id": phone_number_id, "access_token": f"token-of-{phone_number_id}"}
    response = await api.post("/api/phone-numbers", user=user, json={**body, **fields})
    assert response.status_code == 201, response.text
    number: dict[str, Any] = response.json()
    return number


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response (asserting the one shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    error: dict[str, Any] = body["error"]
    return error
