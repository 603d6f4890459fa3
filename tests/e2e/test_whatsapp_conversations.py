"""Customers talk to the bot through signed webhooks; replies reach the stand-in Graph API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from convoflow.store.models import WhatsAppMessage
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.webhooks import (
    WebhookClient,
    button_reply,
    change,
    eventually,
    list_reply,
    status,
    text,
    wamid,
    webhook,
)


async def replies(stub: GraphStub, to: str, count: int) -> list[RecordedRequest]:
    """Wait for ``count`` messages to ``to``; return them all."""

    async def arrived() -> bool:
        return len(stub.sent_to(to)) >= count

    await eventually(arrived, what=f"{count} messages to {to}")
    return stub.sent_to(to)


async def settled(client: WebhookClient) -> None:
    """Wait until no inbound message is pending and no outbound one is queued."""

    async def nothing_pending() -> bool:
        async with client.runtime.db_sessions() as db_session:
            pending = await db_session.scalar(
                select(func.count()).where(WhatsAppMessage.status.in_(("received", "queued")))
            )
        return pending == 0

    await eventually(nothing_pending, what="every message to be settled")


async def rows(client: WebhookClient, direction: str) -> list[WhatsAppMessage]:
    async with client.runtime.db_sessions() as db_session:
        query = select(WhatsAppMessage).where(WhatsAppMessage.direction == direction)
        return list((await db_session.scalars(query.order_by(WhatsAppMessage.id))).all())


def body_text(request: RecordedRequest) -> str:
    message: dict[str, Any] = request.json
    if message["type"] == "text":
        return str(message["text"]["body"])
    return str(message["interactive"]["body"]["text"])


async def test_customer_goes_through_main_menu_and_new_order(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    customer_key, to = "447700900123", "+447700900123"

    await whatsapp.send(text(customer_key, "hi"), **{customer_key: "Ana"})
    [menu] = await replies(graph_stub, to, 1)
    assert body_text(menu).startswith("Hi Ana!")
    assert [b["reply"]["id"] for b in menu.json["interactive"]["action"]["buttons"]] == [
        "new_order",
        "support",
        "account",
    ]

    await whatsapp.send(button_reply(customer_key, "new_order", "New order"))
    products = (await replies(graph_stub, to, 2))[1]
    assert products.json["interactive"]["type"] == "list"

    await whatsapp.send(list_reply(customer_key, "espresso", "Espresso"))
    assert body_text((await replies(graph_stub, to, 3))[2]).startswith("How many Espresso")

    await whatsapp.send(text(customer_key, "2"))
    confirm = (await replies(graph_stub, to, 4))[3]
    assert body_text(confirm) == "Please confirm your order: 2 × Espresso."

    await whatsapp.send(button_reply(customer_key, "confirm", "Confirm"))
    done = (await replies(graph_stub, to, 5))[4]
    assert body_text(done).startswith("Thank you! Your order of 2 × Espresso is confirmed.")

    await settled(whatsapp)
    assert len(graph_stub.sent_to(to)) == 5
    assert [row.status for row in await rows(whatsapp, "in")] == ["processed"] * 5
    outbound = await rows(whatsapp, "out")
    assert [row.wamid for row in outbound] == [r.wamid for r in graph_stub.sent_to(to)]


async def test_the_same_payload_delivered_three_times_gets_one_reply(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    payload = webhook(change([text("15550100001", "hi")]))

    for _ in range(3):
        assert (await whatsapp.post(payload)).status_code == 200

    await replies(graph_stub, "+15550100001", 1)
    await settled(whatsapp)
    assert len(graph_stub.sent) == 1
    assert len(await rows(whatsapp, "in")) == 1


async def test_a_batch_with_three_customers_answers_all_three(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    customers = ["15550200001", "15550200002", "15550200003"]
    second_entry = webhook(change([text(customers[2], "menu")]))["entry"][0]
    payload = webhook(change([text(customers[0], "hi"), text(customers[1], "hello")]))
    payload["entry"].append(second_entry)

    assert (await whatsapp.post(payload)).status_code == 200

    for customer_key in customers:
        [menu] = await replies(graph_stub, f"+{customer_key}", 1)
        assert menu.json["interactive"]["type"] == "button"
    await settled(whatsapp)
    assert len(graph_stub.sent) == 3


async def test_a_customer_known_only_by_business_scoped_id_is_answered_by_recipient(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    bsuid = "US.13491208655302741918"
    value = change([])["value"]
    value["contacts"] = [{"profile": {"name": "Sheena", "username": "sheena.n"}, "user_id": bsuid}]
    value["messages"] = [
        {
            "from_user_id": bsuid,
            "id": wamid(),
            "timestamp": text("x", "")["timestamp"],
            "type": "text",
            "text": {"body": "hi"},
        }
    ]

    await whatsapp.post(webhook({"field": "messages", "value": value}))

    [menu] = await replies(graph_stub, bsuid, 1)
    assert menu.json["recipient"] == bsuid and "to" not in menu.json
    assert body_text(menu).startswith("Hi Sheena!")


async def test_a_burst_of_rate_limit_answers_still_delivers_every_message_once(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    customers = [f"1555030000{n}" for n in range(5)]
    graph_stub.fail_next(4, status=429, code=130429, retry_after=0.05)
    graph_stub.fail_next(2, status=400, code=131056, retry_after=0.05)
    graph_stub.fail_next(2, status=503, code=131016, retry_after=0.05)

    for customer_key in customers:
        await whatsapp.send(text(customer_key, "hi"))

    for customer_key in customers:
        await replies(graph_stub, f"+{customer_key}", 1)
    await settled(whatsapp)
    assert sorted(request.to for request in graph_stub.sent) == [f"+{c}" for c in customers]
    assert [row.status for row in await rows(whatsapp, "out")] == ["sent"] * 5


async def test_an_answer_outside_the_window_marks_the_row_failed(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    graph_stub.fail_for("+15550400001", code=131047)

    await whatsapp.send(text("15550400001", "hi"))

    await settled(whatsapp)
    [row] = await rows(whatsapp, "out")
    assert row.status == "failed" and row.error_code == 131047
    assert row.error_text and "outside the 24-hour customer service window" in row.error_text
    assert graph_stub.sent == []


async def test_statuses_move_rows_forward_and_a_late_sent_changes_nothing(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    await whatsapp.send(text("15550500001", "hi"), text("15550500002", "hi"))
    first, second = [r.wamid or "" for r in await graph_stub.wait_for_async(2, timeout=30)]
    await settled(whatsapp)

    async def post_statuses(*items: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
        assert (await whatsapp.post(webhook(change(statuses=list(items))))).status_code == 200
        return {r.wamid or "": (r.status, r.error_code) for r in await rows(whatsapp, "out")}

    assert (await post_statuses(status(first, "delivered")))[first] == ("delivered", None)
    assert (await post_statuses(status(first, "read")))[first] == ("read", None)
    assert (await post_statuses(status(first, "sent"), status(first, "delivered")))[first] == (
        "read",
        None,
    )
    error = {"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}
    after_failure = await post_statuses(status(second, "failed", errors=[error]))
    assert after_failure[second] == ("failed", 131026)
    assert (await post_statuses(status(second, "read")))[second] == ("failed", 131026)
    failed_row = next(r for r in await rows(whatsapp, "out") if r.wamid == second)
    assert failed_row.error_text == "Message undeliverable"


async def test_message_types_the_engine_does_not_act_on_are_stored_never_a_500(
    whatsapp: WebhookClient, graph_stub: GraphStub
) -> None:
    customer_key = "15550600001"
    kinds = {
        "reaction": {"message_id": "wamid.X", "emoji": "👍"},
        "unsupported": {"type": "poll_creation"},
        "system": {"body": "changed number", "type": "user_changed_number"},
        "hologram": {"shape": "cube"},
    }
    messages = [
        {"from": customer_key, "id": wamid(), "timestamp": "1749416383", "type": kind, kind: value}
        for kind, value in kinds.items()
    ]
    messages.append({"from": customer_key, "id": wamid(), "timestamp": "1749416383"})  # no type

    assert (await whatsapp.post(webhook(change(messages)))).status_code == 200

    await settled(whatsapp)
    stored = await rows(whatsapp, "in")
    assert sorted(row.type for row in stored) == sorted([*kinds, "unknown"])
    assert {row.status for row in stored} == {"ignored"}
    assert graph_stub.sent == []
