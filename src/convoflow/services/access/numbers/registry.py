"""Registering business numbers: each owner adds, reads, changes and removes their own.

A number is someone else's as far as the caller can tell only through one answer: a
``phone_number_id`` already registered by anyone is a :class:`Conflict` (one number, one
owner, so webhooks have one place to go). Everything else about other owners' numbers is
:class:`NotFound`.

The token is never handed back: a view says only whether there is one and of which kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.encryption import TokenCipher
from convoflow.errors import Conflict, InvalidData, NotFound, SecretKeyError
from convoflow.services.access.callers import Caller
from convoflow.services.access.numbers.tokens import ServerNumber
from convoflow.store.models import PhoneNumber

__all__ = [
    "RESERVED_ENV_PREFIX",
    "NumberRegistry",
    "PhoneNumberView",
    "TokenKind",
]

#: convoflow's own secrets are not tokens to lend: such variable names are refused.
RESERVED_ENV_PREFIX = "CONVOFLOW_"
TokenKind = Literal["encrypted", "env", "settings"]
_PLAIN_FIELDS = ("display_phone_number", "messaging_limit_tier", "waba_id")
_TOKEN_FIELDS = ("access_token", "access_token_env")


@dataclass(frozen=True, slots=True)
class PhoneNumberView:
    """A registered number as its owner may see it (no token)."""

    id: str
    owner_id: str
    phone_number_id: str
    waba_id: str | None
    display_phone_number: str
    messaging_limit_tier: str | None
    access_token_kind: TokenKind | None
    access_token_env: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def has_access_token(self) -> bool:
        """True when messages from the number can be authorised."""
        return self.access_token_kind is not None


@dataclass(frozen=True, slots=True)
class NumberRegistry:
    """The phone-number use cases, with what they need besides a session.

    ``cipher`` seals new tokens; ``server_number`` is the settings' own number (whose
    token, without a stored one, is ``CONVOFLOW_WHATSAPP_ACCESS_TOKEN``); ``forget`` is
    told every ``phone_number_id`` that changed, to drop what caches hold about it.
    """

    cipher: TokenCipher
    server_number: ServerNumber
    forget: Callable[[str], None]

    async def create(
        self, db_session: AsyncSession, *, caller: Caller, fields: Mapping[str, Any]
    ) -> PhoneNumberView:
        """Register a number for the caller; it must come with its token."""
        if not any(fields.get(name) is not None for name in _TOKEN_FIELDS):
            raise InvalidData(
                "access_token",
                "give the number's token as access_token (stored encrypted) or as "
                "access_token_env (the name of an environment variable holding it)",
            )
        phone_number_id = str(fields["phone_number_id"])
        async with db_session.begin():
            taken = await db_session.scalar(
                select(PhoneNumber.id).where(PhoneNumber.phone_number_id == phone_number_id)
            )
            if taken is not None:
                raise Conflict(f"phone_number_id {phone_number_id} is already registered")
            row = PhoneNumber(owner_id=caller.id, phone_number_id=phone_number_id)
            self._apply(row, fields)
            db_session.add(row)
            await db_session.flush()
            view = self._view(row)
        self.forget(phone_number_id)
        return view

    async def page(
        self, db_session: AsyncSession, *, caller: Caller, limit: int, offset: int
    ) -> tuple[list[PhoneNumberView], int]:
        """One page of the caller's numbers, oldest first, and how many there are."""
        mine = PhoneNumber.owner_id == caller.id
        async with db_session.begin():
            total = await db_session.scalar(select(func.count()).where(mine))
            rows = await db_session.scalars(
                select(PhoneNumber)
                .where(mine)
                .order_by(PhoneNumber.created_at, PhoneNumber.id)
                .limit(limit)
                .offset(offset)
            )
            return [self._view(row) for row in rows], int(total or 0)

    async def get(
        self, db_session: AsyncSession, *, caller: Caller, number: str
    ) -> PhoneNumberView:
        """One of the caller's numbers, by id or by ``phone_number_id``."""
        async with db_session.begin():
            return self._view(await _own_number(db_session, caller, number))

    async def update(
        self, db_session: AsyncSession, *, caller: Caller, number: str, fields: Mapping[str, Any]
    ) -> PhoneNumberView:
        """Change the given fields; a new token replaces the old one, of either kind."""
        async with db_session.begin():
            row = await _own_number(db_session, caller, number)
            self._apply(row, fields)
            await db_session.flush()
            view = self._view(row)
        self.forget(view.phone_number_id)
        return view

    async def delete(self, db_session: AsyncSession, *, caller: Caller, number: str) -> None:
        """Remove the number: its webhooks are ignored and its queued messages fail."""
        async with db_session.begin():
            row = await _own_number(db_session, caller, number)
            phone_number_id = row.phone_number_id
            await db_session.delete(row)
        self.forget(phone_number_id)

    def _apply(self, row: PhoneNumber, fields: Mapping[str, Any]) -> None:
        """Validate, then change ``row``: bad input raises before anything is set."""
        token_fields = [name for name in _TOKEN_FIELDS if name in fields]
        if len(token_fields) > 1:
            raise InvalidData("access_token_env", "give access_token or access_token_env, not both")
        env_name = fields.get("access_token_env")
        if env_name is not None and str(env_name).upper().startswith(RESERVED_ENV_PREFIX):
            raise InvalidData(
                "access_token_env",
                f"names starting with {RESERVED_ENV_PREFIX} hold convoflow's own settings",
            )
        sealed = self._seal(fields["access_token"]) if fields.get("access_token") else None
        for name in _PLAIN_FIELDS:
            if name in fields:
                setattr(row, name, fields[name])
        if token_fields:  # a new token of either kind replaces the old; null removes it
            row.access_token_encrypted = sealed
            row.access_token_env = env_name

    def _seal(self, token: str) -> str:
        try:
            return self.cipher.encrypt(token)
        except SecretKeyError as error:
            raise InvalidData("access_token", f"cannot be stored encrypted: {error}") from None

    def _view(self, row: PhoneNumber) -> PhoneNumberView:
        return PhoneNumberView(
            id=row.id,
            owner_id=row.owner_id,
            phone_number_id=row.phone_number_id,
            waba_id=row.waba_id,
            display_phone_number=row.display_phone_number,
            messaging_limit_tier=row.messaging_limit_tier,
            access_token_kind=self._token_kind(row),
            access_token_env=row.access_token_env,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _token_kind(self, row: PhoneNumber) -> TokenKind | None:
        """Which token sends from the number, in the order the sender looks for one."""
        if row.access_token_encrypted is not None:
            return "encrypted"
        if row.access_token_env is not None:
            return "env"
        server = self.server_number
        if row.phone_number_id == server.phone_number_id and server.access_token:
            return "settings"
        return None


async def _own_number(db_session: AsyncSession, caller: Caller, number: str) -> PhoneNumber:
    row = await db_session.scalar(
        select(PhoneNumber).where(
            PhoneNumber.owner_id == caller.id,
            or_(PhoneNumber.id == number, PhoneNumber.phone_number_id == number),
        )
    )
    if row is None:
        raise NotFound(f"phone number {number} does not exist")
    return row
