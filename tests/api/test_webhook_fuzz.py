"""Fuzz: whatever a signed body holds, the webhook never answers 500; unsigned never replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from convoflow.store.models import WhatsAppMessage
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, WebhookClient, clean_app

KEYS = [
    "object", "entry", "id", "changes", "field", "value", "metadata", "phone_number_id",
    "contacts", "profile", "name", "wa_id", "user_id", "messages", "statuses", "errors",
    "from", "from_user_id", "timestamp", "type", "text", "body", "interactive",
    "button_reply", "list_reply", "title", "button", "payload", "image", "location",
    "latitude", "longitude", "status", "recipient_id", "code", "context",
]  # fmt: skip
WORDS = [
    "whatsapp_business_account", "messages", "text", "interactive", "button_reply",
    "list_reply", "button", "image", "location", "sent", "delivered", "read", "failed",
    "hi", "menu", PHONE_NUMBER_ID, "15550001111", "US.1234", "1749416383", "99999999999999",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(WORDS)
    | st.text(min_size=300, max_size=400)
    | st.just("x" * 100_000)
    | st.just("\x00null\x00")
    | st.just("\ud800 lone surrogate")
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)


@st.composite
def shaped_webhooks(draw: st.DrawFn) -> dict[str, Any]:
    """The webhook envelope with arbitrary values inside, so the parser's deep paths run."""
    message = draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=8))
    value = {
        "metadata": {"phone_number_id": draw(st.sampled_from([PHONE_NUMBER_ID, "1", "x" * 300]))},
        draw(st.sampled_from(["messages", "statuses", "errors", "contacts"])): draw(
            st.lists(st.just(message) | values, max_size=3)
        ),
    }
    return {
        "object": draw(st.sampled_from(["whatsapp_business_account", "page"])),
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


bodies = (
    shaped_webhooks().map(json.dumps).map(str.encode)
    | values.map(json.dumps).map(str.encode)
    | st.binary(max_size=200)
)


@pytest.fixture
def app(database_url: str, graph_stub: GraphStub) -> Iterator[tuple[BlockingPortal, WebhookClient]]:
    """The app running in a background event loop, so hypothesis can drive it synchronously."""
    with start_blocking_portal() as portal:
        context = portal.wrap_async_context_manager(clean_app(database_url, graph_stub))
        with context as client:
            yield portal, client


def count_stored(portal: BlockingPortal, client: WebhookClient) -> int:
    async def count() -> int:
        async with client.runtime.db_sessions() as db_session:
            found = await db_session.scalar(select(func.count()).select_from(WhatsAppMessage))
            return int(found or 0)

    return portal.call(count)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=bodies)
def test_signed_bodies_never_produce_a_500(
    app: tuple[BlockingPortal, WebhookClient], raw: bytes
) -> None:
    portal, client = app

    response = portal.call(client.post, raw)

    assert response.status_code in (200, 400, 413), response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=bodies, secret=st.sampled_from([None, "wrong-secret"]))
def test_unsigned_bodies_are_refused_and_never_answered(
    app: tuple[BlockingPortal, WebhookClient], graph_stub: GraphStub, raw: bytes, secret: str | None
) -> None:
    portal, client = app

    response = portal.call(lambda: client.post(raw, secret=secret))

    assert response.status_code in (401, 413)  # the size is checked first
    assert count_stored(portal, client) == 0
    assert graph_stub.requests == []
