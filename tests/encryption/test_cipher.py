"""Access tokens sealed with a key derived from the secret: round trip, wrong key, no key."""

from __future__ import annotations

import pytest

from convoflow.encryption import TokenCipher
from convoflow.errors import SecretKeyError

TOKEN = "EAAG-test-token-0123456789"
SECRET = "a-long-random-secret-for-tests"


def test_a_sealed_token_opens_with_the_same_secret_and_hides_the_token() -> None:
    sealed = TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY").encrypt(TOKEN)

    assert TOKEN not in sealed
    reopened = TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY").decrypt(sealed)
    assert reopened == TOKEN


def test_sealing_twice_gives_different_texts() -> None:
    cipher = TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY")

    assert cipher.encrypt(TOKEN) != cipher.encrypt(TOKEN)


def test_another_secret_cannot_open_it_and_says_where_its_key_came_from() -> None:
    sealed = TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY").encrypt(TOKEN)
    other = TokenCipher.from_secret("another-long-secret-value", origin="the key file x.key")

    with pytest.raises(SecretKeyError, match=r"another key than the one from the key file x\.key"):
        other.decrypt(sealed)


def test_a_damaged_sealed_token_is_refused_clearly() -> None:
    cipher = TokenCipher.from_secret(SECRET, origin="CONVOFLOW_SECRET_KEY")
    sealed = cipher.encrypt(TOKEN)
    damaged = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    with pytest.raises(SecretKeyError):
        cipher.decrypt(damaged)
    with pytest.raises(SecretKeyError):
        cipher.decrypt("not a sealed token at all: é")


def test_without_a_key_both_ways_say_what_to_set() -> None:
    cipher = TokenCipher.unavailable("CONVOFLOW_SECRET_KEY is not set")

    assert not cipher.available
    with pytest.raises(SecretKeyError, match="CONVOFLOW_SECRET_KEY is not set"):
        cipher.encrypt(TOKEN)
    with pytest.raises(SecretKeyError, match="CONVOFLOW_SECRET_KEY is not set"):
        cipher.decrypt("gAAAA")
