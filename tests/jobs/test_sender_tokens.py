"""Every outbox row goes out from its own business number, with that number's token."""

from __future__ import annotations

from convoflow.encryption import TokenCipher
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.jobs.sender import OutboxSender
from convoflow.runtime import Runtime
from convoflow.services.access.numbers.tokens import NumberTokens, ServerNumber
from convoflow.store import accounts
from convoflow.store.models import PhoneNumber
from tests.jobs.helpers import add_contact, outbound, queue_texts
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID

ALICE_NUMBER, BOB_NUMBER = "15551110000", "15552220000"
ALICE_CUSTOMER, BOB_CUSTOMER = "4915550001", "4915550002"
CIPHER = TokenCipher.from_secret("sender-tokens-test-secret", origin="CONVOFLOW_SECRET_KEY")


async def connect(
    runtime: Runtime, owner: str, phone_number_id: str, *, sealed: str | None = None, env: str = ""
) -> None:
    async with runtime.db_sessions.begin() as db_session:
        user, _ = await accounts.ensure_user(db_session, owner)
        db_session.add(
            PhoneNumber(
                owner_id=user.id,
                phone_number_id=phone_number_id,
                access_token_encrypted=sealed,
                access_token_env=env or None,
            )
        )


def sender_with_tokens(runtime: Runtime, environ: dict[str, str]) -> OutboxSender:
    tokens = NumberTokens(
        runtime.db_sessions,
        cipher=CIPHER,
        server_number=ServerNumber(PHONE_NUMBER_ID, runtime.settings.whatsapp_access_token),
        environ=environ,
    )
    return OutboxSender(
        engine=runtime.engine,
        db_sessions=runtime.db_sessions,
        graph=runtime.graph,
        limiter=LocalRateLimiter(1000),
        tokens=tokens,
    )


async def test_each_row_goes_out_from_its_number_with_that_numbers_token(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await connect(app_runtime, "alice", ALICE_NUMBER, sealed=CIPHER.encrypt("alice-token"))
    await connect(app_runtime, "bob", BOB_NUMBER, env="BOB_WHATSAPP_TOKEN")
    graph_stub.accept_token(ALICE_NUMBER, "alice-token")
    graph_stub.accept_token(BOB_NUMBER, "bob-token")
    alice = await add_contact(app_runtime, ALICE_CUSTOMER, owner_name="alice")
    bob = await add_contact(app_runtime, BOB_CUSTOMER, owner_name="bob")
    admin = await add_contact(app_runtime, "4915550003")
    await queue_texts(
        app_runtime,
        ALICE_CUSTOMER,
        ["from alice"],
        phone_number_id=ALICE_NUMBER,
        owner_name="alice",
    )
    await queue_texts(
        app_runtime, BOB_CUSTOMER, ["from bob"], phone_number_id=BOB_NUMBER, owner_name="bob"
    )
    await queue_texts(app_runtime, "4915550003", ["from the server's number"])
    sender = sender_with_tokens(app_runtime, {"BOB_WHATSAPP_TOKEN": "bob-token"})

    for owner, customer_key in (
        (alice, ALICE_CUSTOMER),
        (bob, BOB_CUSTOMER),
        (admin, "4915550003"),
    ):
        assert (await sender.deliver_customer(owner, customer_key)).sent == 1

    sent = {(r.text, r.path, r.headers["authorization"]) for r in graph_stub.sent}
    assert sent == {
        ("from alice", f"/v25.0/{ALICE_NUMBER}/messages", "Bearer alice-token"),
        ("from bob", f"/v25.0/{BOB_NUMBER}/messages", "Bearer bob-token"),
        (
            "from the server's number",
            f"/v25.0/{PHONE_NUMBER_ID}/messages",
            f"Bearer {graph_stub.access_token}",
        ),
    }


async def test_a_number_whose_token_cannot_be_opened_fails_its_rows_without_a_call(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    rotated_away = TokenCipher.from_secret("the-key-before-the-rotation", origin="old")
    await connect(app_runtime, "alice", ALICE_NUMBER, sealed=rotated_away.encrypt("token"))
    owner = await add_contact(app_runtime, ALICE_CUSTOMER, owner_name="alice")
    await queue_texts(
        app_runtime,
        ALICE_CUSTOMER,
        ["one", "two"],
        phone_number_id=ALICE_NUMBER,
        owner_name="alice",
    )

    report = await sender_with_tokens(app_runtime, {}).deliver_customer(owner, ALICE_CUSTOMER)

    assert (report.sent, report.failed) == (0, 2)
    assert graph_stub.requests == []
    rows = await outbound(app_runtime, ALICE_CUSTOMER)
    assert [row.status for row in rows] == ["failed", "failed"]
    assert rows[0].error_text is not None
    assert rows[0].error_text.startswith(
        f"not sent: the access token of phone number {ALICE_NUMBER} is unusable"
    )


async def test_a_number_nobody_gave_a_token_fails_saying_how_to_give_one(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await connect(app_runtime, "alice", ALICE_NUMBER)
    owner = await add_contact(app_runtime, ALICE_CUSTOMER, owner_name="alice")
    await queue_texts(
        app_runtime, ALICE_CUSTOMER, ["hello"], phone_number_id=ALICE_NUMBER, owner_name="alice"
    )

    await sender_with_tokens(app_runtime, {}).deliver_customer(owner, ALICE_CUSTOMER)

    [row] = await outbound(app_runtime, ALICE_CUSTOMER)
    assert (row.status, graph_stub.requests) == ("failed", [])
    assert row.error_text is not None and "PATCH /api/phone-numbers" in row.error_text
