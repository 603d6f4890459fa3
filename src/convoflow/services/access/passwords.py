"""Passwords: the policy, and argon2id hashes (RFC 9106 parameters, argon2-cffi's defaults).

Hashing and checking take tens of milliseconds of CPU on purpose, so they run in a thread
and never hold up the event loop. A sign-in for an unknown user still checks a password
against a stand-in hash, so the answer takes as long as for a wrong password.
"""

from __future__ import annotations

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "check_password_policy",
    "hash_password",
    "rehash_if_needed",
    "verify_password",
]

import asyncio
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from convoflow.errors import InvalidData

MIN_PASSWORD_LENGTH = 8
#: Long enough for any passphrase, short enough that hashing it stays cheap.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()


def check_password_policy(password: str, *, field: str = "password") -> None:
    """Refuse a password that is too short or too long (:class:`InvalidData` on ``field``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidData(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidData(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")


async def hash_password(password: str) -> str:
    """The argon2id hash of a password that passed the policy."""
    check_password_policy(password)
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; a missing hash never matches (but
    costs the same time)."""
    if stored_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        await asyncio.to_thread(_matches, _stand_in_hash(), password[:MAX_PASSWORD_LENGTH])
        return False
    return await asyncio.to_thread(_matches, stored_hash, password)


async def rehash_if_needed(stored_hash: str, password: str) -> str | None:
    """A new hash of the (just verified) password when ``stored_hash`` was made with other
    parameters than today's; None when it is current."""
    try:
        current = not _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        current = False
    return None if current else await asyncio.to_thread(_hasher.hash, password)


def _matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    """A hash of a random password, checked when there is no real hash to check."""
    return _hasher.hash(secrets.token_urlsafe(16))
