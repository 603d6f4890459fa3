"""``/webhooks/whatsapp``: the handshake, signatures, limits, and what gets stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from convoflow.channels.whatsapp.signature import SIGNATURE_HEADER, sign
from convoflow.store.models import WhatsAppMessage
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import (
    APP_SECRET,
    VERIFY_TOKEN,
    WebhookClient,
    change,
    clean_app,
    encode,
    eventually,
    signed_headers,
    text,
    webhook,
)

HANDSHAKE = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}


@pytest.fixture
async def whatsapp(database_url: str, graph_stub: GraphStub) -> AsyncIterator[WebhookClient]:
    async with clean_app(database_url, graph_stub) as client:
        yield client


async def stored_count(client: WebhookClient) -> int:
    async with client.runtime.db_sessions() as db_session:
        return int(await db_session.scalar(select(func.count()).select_from(WhatsAppMessage)) or 0)


async def test_handshake_echoes_the_bare_challenge(whatsapp: WebhookClient) -> None:
    params = {**HANDSHAKE, "hub.verify_token": VERIFY_TOKEN}

    response = await whatsapp.http.get("/webhooks/whatsapp", params=params)

    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {**HANDSHAKE, "hub.verify_token": "wrong"},
        {**HANDSHAKE, "hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN},
        {"hub.challenge": "1", "hub.verify_token": VERIFY_TOKEN},
        {},
    ],
)
async def test_handshake_refuses_anything_else(
    whatsapp: WebhookClient, params: dict[str, str]
) -> None:
    response = await whatsapp.http.get("/webhooks/whatsapp", params=params)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha256=" + "0" * 64, sign(b"other body", APP_SECRET), "md5=abc"],
)
async def test_missing_or_wrong_signature_is_refused_and_nothing_stored(
    whatsapp: WebhookClient, graph_stub: GraphStub, signature: str | None
) -> None:
    raw = encode(webhook(change([text("15550700001", "hi")])))
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature

    response = await whatsapp.http.post("/webhooks/whatsapp", content=raw, headers=headers)

    assert response.status_code == 401
    assert await stored_count(whatsapp) == 0


async def test_signature_over_reserialised_json_is_refused(whatsapp: WebhookClient) -> None:
    raw = b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[]}]}'
    headers = signed_headers(raw.replace(b",", b", "))

    response = await whatsapp.http.post("/webhooks/whatsapp", content=raw, headers=headers)

    assert response.status_code == 401


async def test_signed_body_that_is_not_json_is_a_400_and_stores_nothing(
    whatsapp: WebhookClient,
) -> None:
    for raw in (b"{not json", b"", b"\xff\xfe", b'{"entry": NaN}', b"[" * 100_000):
        response = await whatsapp.post(raw)
        assert response.status_code == 400, raw[:20]
    assert await stored_count(whatsapp) == 0


async def test_body_over_three_megabytes_is_a_413(whatsapp: WebhookClient) -> None:
    raw = b'{"padding": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    response = await whatsapp.post(raw)

    assert response.status_code == 413


async def test_without_app_secret_posts_get_503_naming_the_setting(
    database_url: str, graph_stub: GraphStub
) -> None:
    async with clean_app(database_url, graph_stub, whatsapp_app_secret="") as client:
        response = await client.post(webhook(change([text("15550700002", "hi")])))

        assert response.status_code == 503
        assert "CONVOFLOW_WHATSAPP_APP_SECRET" in response.json()["detail"]
        assert await stored_count(client) == 0


async def test_unsigned_webhooks_work_only_when_explicitly_allowed(
    database_url: str, graph_stub: GraphStub, caplog: pytest.LogCaptureFixture
) -> None:
    async with clean_app(
        database_url, graph_stub, whatsapp_app_secret="", whatsapp_allow_unsigned=True
    ) as client:
        response = await client.post(webhook(change([text("15550700003", "hi")])), secret=None)

        assert response.status_code == 200
        await graph_stub.wait_for_async(1, timeout=30)
    assert "CONVOFLOW_WHATSAPP_ALLOW_UNSIGNED=true" in caplog.text


async def test_a_message_for_an_unknown_number_is_stored_but_not_processed(
    whatsapp: WebhookClient, graph_stub: GraphStub, caplog: pytest.LogCaptureFixture
) -> None:
    payload = webhook(change([text("15550700004", "hi")], phone_number_id="999000999"))

    response = await whatsapp.post(payload)

    assert response.status_code == 200
    async with whatsapp.runtime.db_sessions() as db_session:
        [row] = (await db_session.scalars(select(WhatsAppMessage))).all()
    assert row.owner_id is None and row.status == "ignored"
    assert "999000999" in caplog.text
    await whatsapp.runtime.sweeper.sweep_once(grace_seconds=0)
    assert graph_stub.requests == []


async def test_a_registered_number_is_routed_to_its_owner(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    await whatsapp.send(text("15550700005", "hi"))

    async def answered() -> bool:
        return len(graph_stub.sent) == 1

    await eventually(answered, what="the reply")
    async with whatsapp.runtime.db_sessions() as db_session:
        [row] = (
            await db_session.scalars(
                select(WhatsAppMessage).where(WhatsAppMessage.direction == "in")
            )
        ).all()
    assert row.owner_id is not None and row.status == "processed"
