"""Signed WhatsApp webhooks for tests: payload builders and an app client that posts them."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from convoflow.api.app import create_app
from convoflow.channels.whatsapp.signature import SIGNATURE_HEADER, sign
from convoflow.clock import Clock
from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from convoflow.settings import Settings
from tests.support.graph_stub import GraphStub

APP_SECRET = "test-app-secret"
END_ACTION_SECRET = "test-end-action-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"

_serial = itertools.count(1)


def wamid() -> str:
    """A fresh inbound message id."""
    return f"wamid.TEST.{uuid.uuid4().hex[:12]}.{next(_serial)}"


def now_timestamp() -> str:
    """Meta's timestamp (Unix seconds as a string) for now: inside the 24-hour window."""
    return str(int(time.time()))


def message(
    customer_key: str, kind: str, content: dict[str, Any], *, message_id: str | None = None
) -> dict[str, Any]:
    """One ``messages[]`` object from a phone-number customer."""
    return {
        "from": customer_key,
        "id": message_id or wamid(),
        "timestamp": now_timestamp(),
        "type": kind,
        kind: content,
    }


def text(customer_key: str, body: str, *, message_id: str | None = None) -> dict[str, Any]:
    """A text message object."""
    return message(customer_key, "text", {"body": body}, message_id=message_id)


def button_reply(customer_key: str, reply_id: str, title: str = "") -> dict[str, Any]:
    """A reply-button tap."""
    content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return message(customer_key, "interactive", content)


def list_reply(customer_key: str, row_id: str, title: str = "") -> dict[str, Any]:
    """A list-row selection."""
    content = {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
    return message(customer_key, "interactive", content)


def change(
    messages: list[dict[str, Any]] | None = None,
    *,
    statuses: list[dict[str, Any]] | None = None,
    names: dict[str, str] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """One ``changes[]`` entry; a contact per distinct sender (named from ``names``)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    if messages:
        senders = dict.fromkeys(m.get("from") or m.get("from_user_id") for m in messages)
        value["contacts"] = [
            {"profile": {"name": (names or {}).get(s, f"Customer {s}")}, "wa_id": s}
            for s in senders
            if s
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def webhook(*changes: dict[str, Any]) -> dict[str, Any]:
    """The envelope around some changes (one entry)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": list(changes)}],
    }


def status(
    wamid_: str, state: str, *, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One ``statuses[]`` object (no contacts block, as for ``failed``)."""
    item: dict[str, Any] = {
        "id": wamid_,
        "status": state,
        "timestamp": now_timestamp(),
        "recipient_id": "16505551234",
    }
    if errors:
        item["errors"] = errors
    return item


def signed_headers(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """Headers Meta would send with ``raw``."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(raw, secret)}


def encode(payload: Any) -> bytes:
    """Compact JSON bytes, as Meta sends them."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def app_settings(database_url: str, stub: GraphStub | None = None, **overrides: Any) -> Settings:
    """Settings of a WhatsApp-connected app (against the stand-in Graph API when given)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "whatsapp_max_mps": 1000,
        "end_action_secret": END_ACTION_SECRET,
    }
    if stub is not None:
        values.update(whatsapp_api_base=stub.url, whatsapp_access_token=stub.access_token)
    values.update(overrides)
    return Settings(**values)


class WebhookClient:
    """Posts signed webhooks to an app running with its lifespan (jobs and sweeper too)."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    @property
    def runtime(self) -> Runtime:
        """The app's runtime."""
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def post(self, payload: Any, *, secret: str | None = APP_SECRET) -> httpx.Response:
        """POST ``payload`` (a dict, or raw bytes) signed with ``secret`` (None: unsigned)."""
        raw = payload if isinstance(payload, bytes) else encode(payload)
        headers = signed_headers(raw, secret) if secret else {"Content-Type": "application/json"}
        return await self.http.post("/webhooks/whatsapp", content=raw, headers=headers)

    async def send(self, *messages: dict[str, Any], **names: str) -> httpx.Response:
        """POST one webhook carrying ``messages``; it must be acknowledged with 200."""
        response = await self.post(webhook(change(list(messages), names=names or None)))
        assert response.status_code == 200, response.text
        return response


@asynccontextmanager
async def running_app(
    settings: Settings, *, seeded: bool = True, clock: Clock | None = None
) -> AsyncIterator[WebhookClient]:
    """The app with its lifespan, an ASGI client on it, and the built-in templates seeded;
    its runtime takes time from ``clock`` when one is given."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        if seeded:
            await seed(
                app.state.runtime.db_sessions,
                owner_name=settings.default_owner,
                phone_number_id=settings.whatsapp_phone_number_id,
                waba_id=settings.whatsapp_business_account_id,
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://convoflow.test") as http:
            yield WebhookClient(app, http)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it is true (bounded: fail after ``within`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def clean_app(
    database_url: str,
    stub: GraphStub | None = None,
    *,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[WebhookClient]:
    """:func:`running_app` on an emptied database, emptied again afterwards (time from
    ``clock`` when one is given)."""
    from convoflow.store.database import create_engine
    from tests.support.databases import truncate_all

    engine = create_engine(database_url)
    await truncate_all(engine)
    try:
        settings = app_settings(database_url, stub, **overrides)
        async with running_app(settings, clock=clock) as client:
            yield client
    finally:
        await truncate_all(engine)
        await engine.dispose()
