"""Sign-in sessions, failed sign-ins and first-run setup tokens.

Tokens are 256-bit random strings, so, like API keys, a sha256 is enough to store them:
the database never holds anything a browser could present.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import SetupToken, SignInFailure, SignInSession, User
from convoflow.store.models.sign_in import CLIENT_IP_MAX_LENGTH

#: The longest user name stored with a failure (no user name is longer).
FAILURE_NAME_MAX_LENGTH = 64


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """sha256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_session(
    db_session: AsyncSession, *, user_id: str, now: datetime, expires_at: datetime
) -> tuple[SignInSession, str]:
    """Store a new sign-in session; return it and the plain token for the cookie."""
    token = new_token()
    row = SignInSession(
        user_id=user_id,
        token_hash=hash_token(token),
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    db_session.add(row)
    await db_session.flush()
    return row, token


async def find_session(db_session: AsyncSession, token: str) -> tuple[SignInSession, User] | None:
    """The session carrying ``token`` and its user (expired or not), or None."""
    row = (
        await db_session.execute(
            select(SignInSession, User)
            .join(User, User.id == SignInSession.user_id)
            .where(SignInSession.token_hash == hash_token(token))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def delete_session(db_session: AsyncSession, token: str) -> bool:
    """Delete the session carrying ``token``; False when there was none."""
    result = await db_session.execute(
        delete(SignInSession).where(SignInSession.token_hash == hash_token(token))
    )
    return bool(getattr(result, "rowcount", 0))


async def delete_sessions_of_user(
    db_session: AsyncSession, user_id: str, *, keep_id: str | None = None
) -> None:
    """Sign the user out everywhere (but the session ``keep_id``, when given)."""
    query = delete(SignInSession).where(SignInSession.user_id == user_id)
    if keep_id is not None:
        query = query.where(SignInSession.id != keep_id)
    await db_session.execute(query)


async def delete_expired_sessions(db_session: AsyncSession, *, now: datetime) -> None:
    """Remove every session past its expiry."""
    await db_session.execute(delete(SignInSession).where(SignInSession.expires_at <= now))


def failure_name(username: str) -> str:
    """The key failures of a user name are counted under (case does not dodge the count)."""
    return username.strip().lower()[:FAILURE_NAME_MAX_LENGTH]


async def record_failure(
    db_session: AsyncSession, *, username: str, client_ip: str, now: datetime
) -> None:
    """Store one failed sign-in."""
    db_session.add(
        SignInFailure(
            username=failure_name(username),
            client_ip=client_ip[:CLIENT_IP_MAX_LENGTH],
            failed_at=now,
        )
    )
    await db_session.flush()


async def recent_failures(
    db_session: AsyncSession, *, username: str, client_ip: str, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """When the user name, and when the client address, failed since ``since`` (oldest first)."""
    name = failure_name(username)
    address = client_ip[:CLIENT_IP_MAX_LENGTH]
    rows = (
        await db_session.execute(
            select(SignInFailure.username, SignInFailure.client_ip, SignInFailure.failed_at)
            .where(
                SignInFailure.failed_at > since,
                or_(SignInFailure.username == name, SignInFailure.client_ip == address),
            )
            .order_by(SignInFailure.failed_at)
        )
    ).all()
    by_name = [row.failed_at for row in rows if row.username == name]
    by_address = [row.failed_at for row in rows if row.client_ip == address]
    return by_name, by_address


async def forget_failures(db_session: AsyncSession, *, username: str) -> None:
    """Clear the user name's failures (after a successful sign-in)."""
    await db_session.execute(
        delete(SignInFailure).where(SignInFailure.username == failure_name(username))
    )


async def purge_failures(db_session: AsyncSession, *, before: datetime) -> None:
    """Drop failures too old to count any more."""
    await db_session.execute(delete(SignInFailure).where(SignInFailure.failed_at <= before))


async def create_setup_token(db_session: AsyncSession, *, now: datetime) -> str:
    """Store a new setup token; return the plain token (shown once, in the setup link)."""
    token = new_token()
    db_session.add(SetupToken(token_hash=hash_token(token), created_at=now))
    await db_session.flush()
    return token


async def find_setup_token(db_session: AsyncSession, token: str) -> SetupToken | None:
    """The setup token row for ``token`` (locked), used or not; None when unknown."""
    return (
        await db_session.execute(
            select(SetupToken).where(SetupToken.token_hash == hash_token(token)).with_for_update()
        )
    ).scalar_one_or_none()


async def delete_unused_setup_tokens(db_session: AsyncSession) -> None:
    """Drop every setup token not used yet (once the password is set they are moot)."""
    await db_session.execute(delete(SetupToken).where(SetupToken.used_at.is_(None)))


async def count_users(db_session: AsyncSession) -> int:
    """How many platform users exist."""
    return int(await db_session.scalar(select(func.count()).select_from(User)) or 0)
