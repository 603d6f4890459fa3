"""API keys: callers list, create and revoke their own; operators do it by user name.

Only a hash of each key is stored; the plain key exists once, in the answer to its
creation. Revoking keeps the row (with ``revoked_at``) so listings still show the key, and
it takes effect on the very next request: every request looks its key up in the database,
so there is no authentication cache that could outlive a revocation.
"""

from __future__ import annotations

__all__ = [
    "IssuedKey",
    "Revocation",
    "create_key",
    "keys_of_user",
    "list_keys",
    "revoke_any_key",
    "revoke_key",
]

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.services.access.callers import Caller
from convoflow.store import accounts
from convoflow.store.models import ApiKey
from convoflow.store.paging import PageRequest


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: its stored row and the plain key, which is never available again."""

    key: ApiKey
    plain_key: str


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked key; ``changed`` is False when it had been revoked before (then untouched)."""

    key: ApiKey
    changed: bool


async def list_keys(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[ApiKey], int]:
    """A page of the caller's keys, newest first, revoked ones included; and the total."""
    async with db_session.begin():
        return await accounts.list_api_keys(db_session, user_id=caller.id, page=page)


async def create_key(db_session: AsyncSession, *, caller: Caller, label: str = "") -> IssuedKey:
    """A new key for the caller, with an optional label to recognise it by."""
    async with db_session.begin():
        row, plain_key = await accounts.issue_api_key(db_session, user_id=caller.id, label=label)
    return IssuedKey(key=row, plain_key=plain_key)


async def revoke_key(
    db_session: AsyncSession, *, caller: Caller, key_id: str, now: datetime
) -> Revocation:
    """Revoke one of the caller's keys (the one in use too); another user's is NotFound."""
    async with db_session.begin():
        row = await accounts.lock_api_key(db_session, key_id, user_id=caller.id)
        changed = accounts.revoke_api_key(row, now=now)
    return Revocation(key=row, changed=changed)


async def keys_of_user(
    db_sessions: async_sessionmaker[AsyncSession], *, username: str
) -> list[ApiKey]:
    """Every key of the named user, newest first (NotFound for an unknown user)."""
    async with db_sessions.begin() as db_session:
        user = await accounts.get_user(db_session, username)
        rows, _ = await accounts.list_api_keys(db_session, user_id=user.id)
        return rows


async def revoke_any_key(
    db_sessions: async_sessionmaker[AsyncSession], *, key_id: str, now: datetime
) -> Revocation:
    """Revoke a key of any user by its id, as the operator (NotFound for an unknown id)."""
    async with db_sessions.begin() as db_session:
        row = await accounts.lock_api_key(db_session, key_id)
        changed = accounts.revoke_api_key(row, now=now)
    return Revocation(key=row, changed=changed)
