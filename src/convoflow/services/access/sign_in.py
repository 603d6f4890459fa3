"""Signing in to the web app with a user name and password, and signing out.

A sign-in creates a server-side session (:mod:`convoflow.store.sign_in`); the browser
holds only its random token, in a cookie. Failed sign-ins are counted per user name and
per client address over a sliding window; past the limit further attempts are refused
with :class:`TooManyAttempts` — before any password is checked — until the oldest
failure leaves the window. A wrong password and an unknown user get the same answer.
"""

from __future__ import annotations

__all__ = [
    "SignedIn",
    "check_throttle",
    "count_failure",
    "end_session",
    "sign_in",
    "sign_out",
    "start_session",
]

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import TooManyAttempts, Unauthenticated
from convoflow.services.access.callers import Caller, caller_of
from convoflow.services.access.passwords import rehash_if_needed, verify_password
from convoflow.services.access.sign_in_policy import SignInPolicy
from convoflow.store import accounts
from convoflow.store import sign_in as sessions
from convoflow.store.models import User

WRONG_CREDENTIALS = "wrong user name or password"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new sign-in: the caller it acts as, the cookie's token and when it ends at the latest."""

    caller: Caller
    token: str
    expires_at: datetime

    @property
    def csrf_token(self) -> str:
        """The token every change sent with the cookie must repeat."""
        assert self.caller.csrf_token is not None  # set for every sign-in
        return self.caller.csrf_token


async def sign_in(
    db_session: AsyncSession,
    *,
    username: str,
    password: str,
    client_ip: str,
    now: datetime,
    policy: SignInPolicy,
) -> SignedIn:
    """Check the user name and password and start a session.

    :class:`TooManyAttempts` while the user name or the client is throttled;
    :class:`Unauthenticated` (one message for every reason) when the user is unknown,
    deactivated or has no password, or the password is wrong.
    """
    async with db_session.begin():
        await check_throttle(
            db_session, username=username, client_ip=client_ip, now=now, policy=policy
        )
        user = await accounts.find_user(db_session, username)
        stored_hash = user.password_hash if user is not None and user.is_active else None
    # Checked outside the transaction: the hash takes a while and needs no connection.
    if user is None or stored_hash is None or not await verify_password(stored_hash, password):
        if stored_hash is None:  # the same time as checking a real hash
            await verify_password(None, password)
        async with db_session.begin():
            await count_failure(
                db_session, username=username, client_ip=client_ip, now=now, policy=policy
            )
        raise Unauthenticated(WRONG_CREDENTIALS)
    fresh_hash = await rehash_if_needed(stored_hash, password)
    async with db_session.begin():
        await sessions.forget_failures(db_session, username=username)
        if fresh_hash is not None:
            (await accounts.get_user_by_id(db_session, user.id)).password_hash = fresh_hash
        return await start_session(db_session, user=user, now=now, policy=policy)


async def start_session(
    db_session: AsyncSession, *, user: User, now: datetime, policy: SignInPolicy
) -> SignedIn:
    """Create a session for ``user`` in the caller's transaction (ended ones are removed)."""
    await sessions.delete_expired_sessions(db_session, now=now)
    expires_at = policy.expiry(created_at=now, last_seen_at=now)
    row, token = await sessions.create_session(
        db_session, user_id=user.id, now=now, expires_at=expires_at
    )
    caller = caller_of(user, sign_in_id=row.id, csrf_token=row.csrf_token)
    return SignedIn(caller=caller, token=token, expires_at=expires_at)


async def sign_out(
    db_session: AsyncSession, token: str, *, csrf_token: str | None, now: datetime
) -> None:
    """End the session carrying ``token``; nothing to do when it is unknown or over.

    A live session is ended only with its CSRF token (:class:`CsrfFailed` otherwise), so
    another site cannot sign the browser out.
    """
    async with db_session.begin():
        found = await sessions.find_session(db_session, token)
        if found is None:
            return
        session, user = found
        if session.expires_at > now:
            caller_of(user, sign_in_id=session.id, csrf_token=session.csrf_token).check_csrf(
                csrf_token
            )
        await sessions.delete_session(db_session, token)


async def end_session(db_session: AsyncSession, token: str) -> None:
    """Delete the session carrying ``token``, if any (replaced by a new sign-in)."""
    async with db_session.begin():
        await sessions.delete_session(db_session, token)


async def check_throttle(
    db_session: AsyncSession, *, username: str, client_ip: str, now: datetime, policy: SignInPolicy
) -> None:
    """Raise :class:`TooManyAttempts` while the user name or the client address has had
    too many failures within the window, saying when to try again."""
    by_name, by_address = await sessions.recent_failures(
        db_session, username=username, client_ip=client_ip, since=now - policy.failure_window
    )
    waits = [
        _wait(failures, limit, now=now, window=policy.failure_window)
        for failures, limit in (
            (by_name, policy.max_failures),
            (by_address, policy.max_failures_per_ip),
        )
    ]
    longest = max(waits)
    if longest > 0:
        raise TooManyAttempts(
            f"too many failed sign-ins; try again in {longest} seconds", retry_after=longest
        )


async def count_failure(
    db_session: AsyncSession, *, username: str, client_ip: str, now: datetime, policy: SignInPolicy
) -> None:
    """Record a failed sign-in (and drop failures too old to count)."""
    await sessions.purge_failures(db_session, before=now - policy.failure_window)
    await sessions.record_failure(db_session, username=username, client_ip=client_ip, now=now)


def _wait(failures: list[datetime], limit: int, *, now: datetime, window: timedelta) -> int:
    """Whole seconds until fewer than ``limit`` of ``failures`` (oldest first) are in the
    window; 0 when there are fewer already."""
    if len(failures) < limit:
        return 0
    # Once this one leaves the window, limit - 1 failures remain in it.
    frees_a_slot = failures[len(failures) - limit]
    return max(1, math.ceil((frees_a_slot + window - now).total_seconds()))
