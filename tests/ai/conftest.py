"""An app on a clean database with the stand-in model server, Graph API and outside API.

The admin API is used as ``admin`` (the seeded default owner, whose number
``PHONE_NUMBER_ID`` customers write to); jobs and the sweeper run in the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from convoflow.runtime import Runtime
from convoflow.services.access import setup
from tests.jobs.outside_api import OutsideApi
from tests.support.graph_stub import GraphStub
from tests.support.llm_stub import LlmStub
from tests.support.webhooks import WebhookClient, clean_app, text

CUSTOMER = "15550004444"
MODEL = "stub-model"


@dataclass
class AiApp:
    """The running app, its clients and stand-ins."""

    webhooks: WebhookClient
    key: str
    llm: LlmStub
    graph: GraphStub
    outside: OutsideApi

    @property
    def runtime(self) -> Runtime:
        return self.webhooks.runtime

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the admin API as ``admin``."""
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return await self.webhooks.http.request(method, path, headers=headers, **kwargs)

    async def says(self, words: str, customer: str = CUSTOMER) -> None:
        """The customer writes ``words`` (a signed webhook)."""
        await self.webhooks.send(text(customer, words))


@pytest.fixture
def llm() -> Iterator[LlmStub]:
    with LlmStub() as stub:
        yield stub


@asynccontextmanager
async def app_with_model(
    database_url: str,
    graph_stub: GraphStub,
    llm: LlmStub,
    outside: OutsideApi,
    **overrides: Any,
) -> AsyncIterator[AiApp]:
    """The app on a clean database with the stand-in model (settings ``overrides``)."""
    settings: dict[str, Any] = {
        "llm_base_url": llm.url,
        "llm_model": MODEL,
        "llm_timeout_seconds": 5,
        # each message its own turn (tests/ai/test_debounce.py holds them)
        "llm_debounce_ms": 0,
    }
    async with clean_app(database_url, graph_stub, **(settings | overrides)) as webhooks:
        key = await setup.create_key(webhooks.runtime.db_sessions, username="admin")
        yield AiApp(webhooks, key, llm, graph_stub, outside)


@pytest.fixture
async def ai_app(
    database_url: str, graph_stub: GraphStub, llm: LlmStub, outside_api: OutsideApi
) -> AsyncIterator[AiApp]:
    async with app_with_model(database_url, graph_stub, llm, outside_api) as app:
        yield app


@pytest.fixture
async def patient_app(
    database_url: str, graph_stub: GraphStub, llm: LlmStub, outside_api: OutsideApi
) -> AsyncIterator[AiApp]:
    """:func:`ai_app` whose model calls never time out: for answers the test holds back."""
    # A held answer must not time out (and be asked again).
    async with app_with_model(
        database_url, graph_stub, llm, outside_api, llm_timeout_seconds=300
    ) as app:
        yield app
