"""First run without the command line: a one-time link sets the default owner's password.

While the default owner (``admin``) has no password, each start of ``convoflow serve``
issues a new random setup token and prints the link carrying it. The token is stored as
its hash and stays valid until one token is used: that sets the password, signs the
browser in, and makes every other token void. A used token answers :class:`Conflict`, an
unknown one :class:`Forbidden` (or :class:`Conflict` once the password is set anyway).
"""

from __future__ import annotations

__all__ = ["complete_setup", "issue_setup_token", "setup_needed"]

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.errors import Conflict, Forbidden
from convoflow.services.access.passwords import check_password_policy, hash_password
from convoflow.services.access.sign_in import SignedIn, start_session
from convoflow.services.access.sign_in_policy import SignInPolicy
from convoflow.store import accounts
from convoflow.store import sign_in as tokens
from convoflow.store.models import SetupToken, User


async def setup_needed(db_session: AsyncSession, *, owner_name: str) -> bool:
    """True while the default owner has no password yet."""
    async with db_session.begin():
        return _needs_password(await accounts.find_user(db_session, owner_name))


async def issue_setup_token(
    db_sessions: async_sessionmaker[AsyncSession], *, owner_name: str, now: datetime
) -> str | None:
    """A new setup token while the default owner has no password; None once it has one."""
    async with db_sessions.begin() as db_session:
        if not _needs_password(await accounts.find_user(db_session, owner_name)):
            return None
        return await tokens.create_setup_token(db_session, now=now)


async def complete_setup(
    db_session: AsyncSession,
    *,
    owner_name: str,
    token: str,
    password: str,
    now: datetime,
    policy: SignInPolicy,
) -> SignedIn:
    """Set the default owner's password with a setup token, and sign in as the owner."""
    async with db_session.begin():
        await _usable_token(db_session, owner_name=owner_name, token=token)
    check_password_policy(password)
    password_hash = await hash_password(password)
    async with db_session.begin():
        # Checked again under the token's lock: another browser may have used it meanwhile.
        row = await _usable_token(db_session, owner_name=owner_name, token=token)
        owner, _ = await accounts.ensure_user(db_session, owner_name)
        owner.is_admin = True
        owner.password_hash = password_hash
        row.used_at = now
        await tokens.delete_unused_setup_tokens(db_session)
        return await start_session(db_session, user=owner, now=now, policy=policy)


async def _usable_token(db_session: AsyncSession, *, owner_name: str, token: str) -> SetupToken:
    row = await tokens.find_setup_token(db_session, token) if token else None
    if row is not None and row.used_at is not None:
        raise Conflict("this setup link was used already; sign in with the password set then")
    if not _needs_password(await accounts.find_user(db_session, owner_name)):
        raise Conflict(f"setup is done: {owner_name} has a password already; sign in")
    if row is None:
        raise Forbidden("unknown setup link; use a link `convoflow serve` printed at start-up")
    return row


def _needs_password(owner: User | None) -> bool:
    return owner is None or owner.password_hash is None
