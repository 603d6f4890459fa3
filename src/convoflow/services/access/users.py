"""Platform users as the web app's Settings page manages them, and passwords.

An admin sees every user, creates users and sets other users' passwords; everyone sees
themselves and changes their own password by giving the current one. Another user's
id is :class:`NotFound` to a non-admin, as if it did not exist. A password change signs the
user out everywhere except the session that made it.
"""

from __future__ import annotations

__all__ = ["change_password", "create_user", "list_users", "set_password"]

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.errors import Forbidden, InvalidData, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.access.passwords import (
    check_password_policy,
    hash_password,
    verify_password,
)
from convoflow.services.access.sign_in import check_throttle, count_failure
from convoflow.services.access.sign_in_policy import SignInPolicy
from convoflow.store import accounts
from convoflow.store import sign_in as sessions
from convoflow.store.models import User
from convoflow.store.paging import PageRequest, read_page


async def list_users(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[User], int]:
    """A page of users by name: all of them for an admin, else only the caller."""
    query = accounts.users_query(only_id=None if caller.is_admin else caller.id)
    async with db_session.begin():
        result, total = await read_page(db_session, query, page)
        return list(result.scalars()), total


async def create_user(
    db_session: AsyncSession, *, caller: Caller, name: str, password: str, is_admin: bool
) -> User:
    """A new user who signs in with ``password`` (admins only)."""
    if not caller.is_admin:
        raise Forbidden("only an admin creates users")
    password_hash = await hash_password(password)
    async with db_session.begin():
        return await accounts.create_user(
            db_session, username=name, is_admin=is_admin, password_hash=password_hash, field="name"
        )


async def change_password(
    db_session: AsyncSession,
    *,
    caller: Caller,
    user_id: str,
    password: str,
    current_password: str | None,
    client_ip: str,
    now: datetime,
    policy: SignInPolicy,
) -> None:
    """Set a user's password: your own with the current one (when you have one), or
    another user's as an admin.

    A wrong current password counts as a failed sign-in of the user (and is throttled
    alike), so a browser left signed in cannot be used to guess it.
    """
    is_self = user_id == caller.id
    if not is_self and not caller.is_admin:
        raise NotFound(f"no user with id {user_id!r}")
    check_password_policy(password)
    async with db_session.begin():
        stored_hash = (await accounts.get_user_by_id(db_session, user_id)).password_hash
        must_prove = is_self and stored_hash is not None
        if must_prove:
            await check_throttle(
                db_session, username=caller.username, client_ip=client_ip, now=now, policy=policy
            )
    if must_prove and not await _is_current(stored_hash, current_password):
        async with db_session.begin():
            await count_failure(
                db_session, username=caller.username, client_ip=client_ip, now=now, policy=policy
            )
        raise InvalidData("current_password", "is not your current password")
    password_hash = await hash_password(password)
    async with db_session.begin():
        user = await accounts.get_user_by_id(db_session, user_id)
        user.password_hash = password_hash
        await sessions.delete_sessions_of_user(
            db_session, user_id, keep_id=caller.sign_in_id if is_self else None
        )


async def _is_current(stored_hash: str | None, given: str | None) -> bool:
    return bool(given) and await verify_password(stored_hash, given or "")


async def set_password(
    db_sessions: async_sessionmaker[AsyncSession], *, username: str, password: str
) -> None:
    """Set a user's password as the operator (signs them out everywhere)."""
    password_hash = await hash_password(password)
    async with db_sessions.begin() as db_session:
        user = await accounts.get_user(db_session, username)
        user.password_hash = password_hash
        await sessions.delete_sessions_of_user(db_session, user.id)
