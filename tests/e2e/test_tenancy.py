"""Two users, each with their own WhatsApp number: signed webhooks in, replies out.

Each customer is answered by the templates of the number's owner, from that number, with
that number's token (checked by the stand-in Graph API on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.services.access import setup
from convoflow.store.models import WhatsAppMessage
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.webhooks import (
    PHONE_NUMBER_ID,
    WebhookClient,
    change,
    clean_app,
    eventually,
    text,
    webhook,
)

ALICE_NUMBER, BOB_NUMBER = "15551110000", "15552220000"
ANA, BEN, CARLA = "4915550100", "4915550200", "4915550300"


@dataclass
class Tenant:
    """A platform user with an API key, talking to the app's admin API."""

    client: WebhookClient
    key: str

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        response = await self.client.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def menu_template(self, name: str, reply: str) -> None:
        """A template answering the trigger ``menu`` with ``reply``."""
        steps = [{"id": "hello", "type": "end", "text": reply}]
        document = {
            "template_name": name,
            "template_type": "text",
            "trigger_keywords": ["menu"],
            "menu_structure": {"start": "hello", "steps": steps},
        }
        await self.call("POST", "/api/workflow-templates", json=document)


@pytest.fixture
async def whatsapp(
    database_url: str, graph_stub: GraphStub, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WebhookClient]:
    """The app with a token key, Bob's token in the environment, jobs in process."""
    monkeypatch.setenv("BOB_WHATSAPP_TOKEN", "bob-token")
    async with clean_app(database_url, graph_stub, secret_key="e2e-tenancy-secret-key") as client:
        yield client


async def tenant(client: WebhookClient, username: str) -> Tenant:
    return Tenant(
        client, await setup.create_user_with_key(client.runtime.db_sessions, username=username)
    )


async def customer_writes(
    client: WebhookClient, phone_number_id: str, customer_key: str, body: str
) -> None:
    payload = webhook(change([text(customer_key, body)], phone_number_id=phone_number_id))
    response = await client.post(payload)
    assert response.status_code == 200, response.text


async def replies_to(stub: GraphStub, customer_key: str, count: int) -> list[RecordedRequest]:
    async def arrived() -> bool:
        return len(stub.sent_to(f"+{customer_key}")) >= count

    await eventually(arrived, what=f"{count} replies to {customer_key}")
    return stub.sent_to(f"+{customer_key}")


async def test_each_customer_is_answered_by_the_numbers_owner_from_that_number(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    alice, bob = await tenant(whatsapp, "alice"), await tenant(whatsapp, "bob")
    await alice.call(
        "POST",
        "/api/phone-numbers",
        json={"phone_number_id": ALICE_NUMBER, "access_token": "alice-token"},
    )
    await bob.call(
        "POST",
        "/api/phone-numbers",
        json={"phone_number_id": BOB_NUMBER, "access_token_env": "BOB_WHATSAPP_TOKEN"},
    )
    graph_stub.accept_token(ALICE_NUMBER, "alice-token")
    graph_stub.accept_token(BOB_NUMBER, "bob-token")
    await alice.menu_template("pizza", "Alice's pizzas: margherita or diavola?")
    await bob.menu_template("books", "Bob's books: novels or poems?")

    await customer_writes(whatsapp, ALICE_NUMBER, ANA, "menu")
    await customer_writes(whatsapp, BOB_NUMBER, BEN, "menu")
    await customer_writes(whatsapp, PHONE_NUMBER_ID, CARLA, "hi")  # the server's own number

    [to_ana] = await replies_to(graph_stub, ANA, 1)
    [to_ben] = await replies_to(graph_stub, BEN, 1)
    [to_carla] = await replies_to(graph_stub, CARLA, 1)
    assert (to_ana.text, to_ana.path, to_ana.headers["authorization"]) == (
        "Alice's pizzas: margherita or diavola?",
        f"/v25.0/{ALICE_NUMBER}/messages",
        "Bearer alice-token",
    )
    assert (to_ben.text, to_ben.path, to_ben.headers["authorization"]) == (
        "Bob's books: novels or poems?",
        f"/v25.0/{BOB_NUMBER}/messages",
        "Bearer bob-token",
    )
    assert to_carla.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"  # admin's built-in main menu
    assert to_carla.headers["authorization"] == f"Bearer {graph_stub.access_token}"
    alice_log = await alice.call("GET", "/api/messages")
    assert {item["customer"] for item in alice_log["items"]} == {ANA}
    bob_log = await bob.call("GET", "/api/messages")
    assert {item["customer"] for item in bob_log["items"]} == {BEN}


async def test_a_token_changed_through_the_api_is_used_for_the_next_reply(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    alice = await tenant(whatsapp, "alice")
    number = await alice.call(
        "POST",
        "/api/phone-numbers",
        json={"phone_number_id": ALICE_NUMBER, "access_token": "alice-token"},
    )
    graph_stub.accept_token(ALICE_NUMBER, "alice-token")
    await alice.menu_template("pizza", "Alice's pizzas")
    await customer_writes(whatsapp, ALICE_NUMBER, ANA, "menu")
    await replies_to(graph_stub, ANA, 1)

    await alice.call(
        "PATCH", f"/api/phone-numbers/{number['id']}", json={"access_token": "alice-new-token"}
    )
    graph_stub.accept_token(ALICE_NUMBER, "alice-new-token")
    await customer_writes(whatsapp, ALICE_NUMBER, ANA, "menu")

    second = (await replies_to(graph_stub, ANA, 2))[1]
    assert second.headers["authorization"] == "Bearer alice-new-token"


async def test_a_number_nobody_registered_is_stored_as_ignored_and_not_answered(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    alice = await tenant(whatsapp, "alice")
    number = await alice.call(
        "POST",
        "/api/phone-numbers",
        json={"phone_number_id": ALICE_NUMBER, "access_token": "alice-token"},
    )
    await alice.call("DELETE", f"/api/phone-numbers/{number['id']}")

    await customer_writes(whatsapp, ALICE_NUMBER, ANA, "hi")

    async with whatsapp.runtime.db_sessions() as db_session:
        [row] = (await db_session.scalars(select(WhatsAppMessage))).all()
    assert (row.owner_id, row.status, row.phone_number_id) == (None, "ignored", ALICE_NUMBER)
    assert graph_stub.requests == []
