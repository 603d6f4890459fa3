"""Users, API keys and business phone numbers."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.store.models import ApiKey, PhoneNumber, User
from convoflow.store.paging import PageRequest, read_page

KEY_PREFIX = "cfk_"
#: How much of a key is kept in clear to tell keys apart: ``cfk_`` and 8 random characters.
KEY_PREFIX_SHOWN = 12
LABEL_MAX_LENGTH = 200
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def hash_api_key(plain_key: str) -> str:
    """sha256 of a key; keys are 256-bit random, so a fast hash is enough to store them."""
    return hashlib.sha256(plain_key.encode()).hexdigest()


async def find_user(db_session: AsyncSession, username: str) -> User | None:
    """The user with this name, or None."""
    return (
        await db_session.execute(select(User).where(User.username == username))
    ).scalar_one_or_none()


async def get_user(db_session: AsyncSession, username: str) -> User:
    """The user with this name; :class:`NotFound` otherwise."""
    user = await find_user(db_session, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


async def get_user_by_id(db_session: AsyncSession, user_id: str) -> User:
    """The user with this id; :class:`NotFound` otherwise."""
    user = await db_session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    return user


async def create_user(
    db_session: AsyncSession,
    *,
    username: str,
    display_name: str = "",
    is_admin: bool = False,
    password_hash: str | None = None,
    field: str = "username",
) -> User:
    """A new platform user; names are unique (``field`` names the name in errors)."""
    if not USERNAME_PATTERN.match(username):
        raise InvalidData(field, "use 1-64 letters, digits, '.', '_' or '-'")
    if await find_user(db_session, username) is not None:
        raise Conflict(f"a user named {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        is_admin=is_admin,
        password_hash=password_hash,
    )
    db_session.add(user)
    await db_session.flush()
    return user


async def ensure_user(db_session: AsyncSession, username: str) -> tuple[User, bool]:
    """The user, created if missing; the flag tells whether it was created."""
    user = await find_user(db_session, username)
    if user is not None:
        return user, False
    return await create_user(db_session, username=username), True


async def create_api_key(db_session: AsyncSession, *, user: User, name: str = "") -> str:
    """Store a new hashed key for ``user`` and return the plain key (shown once)."""
    _, plain_key = await issue_api_key(db_session, user_id=user.id, label=name)
    return plain_key


async def issue_api_key(
    db_session: AsyncSession, *, user_id: str, label: str = ""
) -> tuple[ApiKey, str]:
    """Store a new hashed key for the user; return its row and the plain key (shown once).

    Only the hash and a short, non-secret prefix (``cfk_`` and 8 characters) are stored,
    so a listing can tell keys apart without being able to rebuild any of them.
    """
    label = label.strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidData("label", f"is longer than {LABEL_MAX_LENGTH} characters")
    plain_key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        user_id=user_id,
        key_hash=hash_api_key(plain_key),
        key_prefix=plain_key[:KEY_PREFIX_SHOWN],
        name=label,
    )
    db_session.add(row)
    await db_session.flush()
    return row, plain_key


async def authenticate(db_session: AsyncSession, plain_key: str, *, now: datetime) -> User | None:
    """The active user owning this key, or None for an unknown or revoked key."""
    query = (
        select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_api_key(plain_key), ApiKey.revoked_at.is_(None))
    )
    row = (await db_session.execute(query)).first()
    if row is None or not row[0].is_active:
        return None
    row[1].last_used_at = now
    return row[0]


def users_query(*, only_id: str | None = None) -> Select[User]:
    """Users by name (only the one with ``only_id`` when given)."""
    query = select(User).order_by(User.username)
    if only_id is not None:
        query = query.where(User.id == only_id)
    return query


def api_keys_query(user_id: str) -> Select[ApiKey]:
    """The user's keys, newest first (revoked ones too)."""
    return (
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )


async def list_api_keys(
    db_session: AsyncSession, *, user_id: str, page: PageRequest | None = None
) -> tuple[list[ApiKey], int]:
    """One page of the user's keys (every key without ``page``), newest first (revoked
    ones too), and how many there are."""
    query = api_keys_query(user_id)
    if page is None:
        rows = list((await db_session.execute(query)).scalars())
        return rows, len(rows)
    result, total = await read_page(db_session, query, page)
    return list(result.scalars()), total


async def lock_api_key(
    db_session: AsyncSession, key_id: str, *, user_id: str | None = None
) -> ApiKey:
    """The key with this id (of ``user_id`` when given), locked; :class:`NotFound` otherwise.

    Another user's key is reported exactly like a missing one.
    """
    query = select(ApiKey).where(ApiKey.id == key_id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    row = (await db_session.execute(query.with_for_update())).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no API key with id {key_id!r}")
    return row


def revoke_api_key(key: ApiKey, *, now: datetime) -> bool:
    """Mark the key revoked at ``now``; False (and no change) when it already was.

    The row is kept so listings still show the key and when it was revoked.
    """
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    return True


async def ensure_phone_number(
    db_session: AsyncSession,
    *,
    owner: User,
    phone_number_id: str,
    display_phone_number: str = "",
    waba_id: str = "",
) -> PhoneNumber:
    """Register the business number for ``owner`` (idempotent).

    A number registered already is returned as it is, whoever owns it; a ``waba_id`` given
    for the owner's own number replaces the stored one (the settings are the source).
    """
    existing = (
        await db_session.execute(
            select(PhoneNumber).where(PhoneNumber.phone_number_id == phone_number_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        if waba_id and existing.owner_id == owner.id:
            existing.waba_id = waba_id
        return existing
    number = PhoneNumber(
        owner_id=owner.id,
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        waba_id=waba_id or None,
    )
    db_session.add(number)
    await db_session.flush()
    return number
