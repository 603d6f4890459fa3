"""Each business number's token, as the sender asks for it: found, cached, refreshed, refused."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from convoflow.clock import FakeClock
from convoflow.encryption import TokenCipher
from convoflow.errors import AccessTokenUnavailable
from convoflow.runtime import Runtime
from convoflow.services.access.numbers.tokens import NumberTokens, ServerNumber
from convoflow.store import accounts
from convoflow.store.models import PhoneNumber

SECRET = "number-tokens-test-secret"
SERVER_NUMBER = "15550000000"


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY")


async def register(
    runtime: Runtime,
    phone_number_id: str,
    *,
    env: str | None = None,
    sealed: str | None = None,
    owner: str = "alice",
) -> None:
    async with runtime.db_sessions.begin() as db_session:
        user, _ = await accounts.ensure_user(db_session, owner)
        db_session.add(
            PhoneNumber(
                owner_id=user.id,
                phone_number_id=phone_number_id,
                access_token_env=env,
                access_token_encrypted=sealed,
            )
        )


async def set_sealed(runtime: Runtime, phone_number_id: str, sealed: str) -> None:
    async with runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(PhoneNumber)
            .where(PhoneNumber.phone_number_id == phone_number_id)
            .values(access_token_encrypted=sealed)
        )


def tokens_for(
    runtime: Runtime,
    cipher: TokenCipher,
    *,
    server_token: str = "server-token",
    environ: dict[str, str] | None = None,
    clock: FakeClock | None = None,
) -> NumberTokens:
    return NumberTokens(
        runtime.db_sessions,
        cipher=cipher,
        server_number=ServerNumber(SERVER_NUMBER, server_token),
        environ={} if environ is None else environ,
        ttl_seconds=10.0,
        clock=clock or FakeClock(),
    )


async def reason(tokens: NumberTokens, phone_number_id: str) -> str:
    with pytest.raises(AccessTokenUnavailable) as refused:
        await tokens.token_for(phone_number_id)
    return str(refused.value)


async def test_each_number_gets_its_own_token_of_either_kind(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    await register(runtime, "111", sealed=cipher.encrypt("alice-token"))
    await register(runtime, "222", env="BOB_WHATSAPP_TOKEN", owner="bob")
    tokens = tokens_for(runtime, cipher, environ={"BOB_WHATSAPP_TOKEN": " bob-token\n"})

    assert await tokens.token_for("111") == "alice-token"
    assert await tokens.token_for("222") == "bob-token"
    assert await tokens.token_for(SERVER_NUMBER) == "server-token"


async def test_a_stored_token_wins_over_the_setting_for_the_server_number(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    await register(runtime, SERVER_NUMBER, sealed=cipher.encrypt("stored-token"), owner="admin")

    assert await tokens_for(runtime, cipher).token_for(SERVER_NUMBER) == "stored-token"


async def test_a_changed_token_is_used_once_the_cached_one_lapses(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    clock = FakeClock()
    await register(runtime, "111", sealed=cipher.encrypt("old-token"))
    tokens = tokens_for(runtime, cipher, clock=clock)
    assert await tokens.token_for("111") == "old-token"

    await set_sealed(runtime, "111", cipher.encrypt("new-token"))

    clock.advance(9.9)
    assert await tokens.token_for("111") == "old-token"  # cached: no query per message
    clock.advance(0.1)
    assert await tokens.token_for("111") == "new-token"


async def test_a_forgotten_number_is_read_again_at_once(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    await register(runtime, "111", sealed=cipher.encrypt("old-token"))
    tokens = tokens_for(runtime, cipher)
    assert await tokens.token_for("111") == "old-token"
    await set_sealed(runtime, "111", cipher.encrypt("new-token"))

    tokens.forget("111")

    assert await tokens.token_for("111") == "new-token"


async def test_an_environment_variable_is_read_when_sending(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    clock = FakeClock()
    environ: dict[str, str] = {}
    await register(runtime, "222", env="BOB_WHATSAPP_TOKEN")
    tokens = tokens_for(runtime, cipher, environ=environ, clock=clock)

    assert "environment variable BOB_WHATSAPP_TOKEN" in await reason(tokens, "222")

    environ["BOB_WHATSAPP_TOKEN"] = "bob-token"
    clock.advance(10)
    assert await tokens.token_for("222") == "bob-token"


async def test_numbers_without_a_usable_token_say_what_to_do(
    runtime: Runtime, cipher: TokenCipher
) -> None:
    other_key = TokenCipher.from_secret("the-key-before-a-rotation", origin="old")
    await register(runtime, "333")
    await register(runtime, "444", sealed=other_key.encrypt("token"))
    tokens = tokens_for(runtime, cipher, server_token="")

    assert await reason(tokens, "999") == "phone number '999' is not registered"
    assert "phone number 333 has no access token" in await reason(tokens, "333")
    assert "PATCH /api/phone-numbers" in await reason(tokens, "333")
    assert await reason(tokens, SERVER_NUMBER) == "CONVOFLOW_WHATSAPP_ACCESS_TOKEN is not set"
    wrong_key = await reason(tokens, "444")
    assert wrong_key.startswith("the access token of phone number 444 is unusable")
    assert "another key than the one from CONVOFLOW_SECRET_KEY" in wrong_key


async def test_without_a_key_a_sealed_token_names_the_setting(runtime: Runtime) -> None:
    sealed = TokenCipher.from_secret(SECRET, origin="x").encrypt("token")
    await register(runtime, "111", sealed=sealed)
    no_key = TokenCipher.unavailable("CONVOFLOW_SECRET_KEY is not set: set it")

    refused = await reason(tokens_for(runtime, no_key), "111")

    assert "CONVOFLOW_SECRET_KEY is not set" in refused
