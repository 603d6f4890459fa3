"""The Graph API token of each business number, resolved per number and cached briefly.

==================================  ========================================================
the number's row has                token
==================================  ========================================================
``access_token_encrypted``          opened with the server's token key
``access_token_env``                the value of that environment variable, read at send
                                    time in the sending process
neither, and it is the server's     ``CONVOFLOW_WHATSAPP_ACCESS_TOKEN``
own number (the settings' one)
neither                             none: its messages fail, saying what to set
==================================  ========================================================

Every answer (a token, or why there is none) is kept for ``ttl_seconds``, so the sender
does not read ``phone_numbers`` for each message; a token changed through the API is
forgotten at once in that process and seen by every other process within the TTL.

The sender and the read receipts depend only on the :class:`AccessTokens` port defined
here (services never import the jobs, so the port lives with its implementation).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.encryption import TokenCipher
from convoflow.errors import AccessTokenUnavailable, SecretKeyError
from convoflow.store.models import PhoneNumber

__all__ = [
    "DEFAULT_TOKEN_TTL_SECONDS",
    "AccessTokens",
    "NumberTokens",
    "ServerNumber",
]

#: How long a resolved token (or the reason for its absence) is reused.
DEFAULT_TOKEN_TTL_SECONDS = 10.0
SERVER_TOKEN_SETTING = "CONVOFLOW_WHATSAPP_ACCESS_TOKEN"


class AccessTokens(Protocol):
    """Resolves the ``Authorization: Bearer`` token of a business number (the sender's port)."""

    async def token_for(self, phone_number_id: str) -> str:
        """The number's token; :class:`~convoflow.errors.AccessTokenUnavailable` when it has
        none usable."""
        ...


@dataclass(frozen=True, slots=True)
class ServerNumber:
    """The number configured in the settings (owned by the default owner) and its token."""

    phone_number_id: str = ""
    access_token: str = ""


@dataclass(frozen=True, slots=True)
class _Resolved:
    token: str | None
    reason: str
    at: float


class NumberTokens:
    """:class:`AccessTokens` from ``phone_numbers``."""

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        *,
        cipher: TokenCipher,
        server_number: ServerNumber,
        environ: Mapping[str, str] | None = None,
        ttl_seconds: float = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Clock = SystemClock(),
    ) -> None:
        self._sessions = db_sessions
        self._cipher = cipher
        self.server_number = server_number
        self._environ = os.environ if environ is None else environ
        self._ttl = ttl_seconds
        self._clock = clock
        self._resolved: dict[str, _Resolved] = {}

    async def token_for(self, phone_number_id: str) -> str:
        """The number's token; :class:`~convoflow.errors.AccessTokenUnavailable` saying why
        there is none."""
        now = self._clock.monotonic()
        resolved = self._resolved.get(phone_number_id)
        if resolved is None or now - resolved.at >= self._ttl:
            token, reason = await self._resolve(phone_number_id)
            resolved = _Resolved(token, reason, now)
            self._resolved[phone_number_id] = resolved
        if resolved.token is None:
            raise AccessTokenUnavailable(resolved.reason)
        return resolved.token

    def forget(self, phone_number_id: str) -> None:
        """Resolve the number afresh next time (its token changed in this process)."""
        self._resolved.pop(phone_number_id, None)

    async def _resolve(self, phone_number_id: str) -> tuple[str | None, str]:
        async with self._sessions() as db_session:
            row = (
                await db_session.execute(
                    select(PhoneNumber.access_token_env, PhoneNumber.access_token_encrypted).where(
                        PhoneNumber.phone_number_id == phone_number_id
                    )
                )
            ).first()
        if row is not None and row.access_token_encrypted is not None:
            return self._open(phone_number_id, row.access_token_encrypted)
        if row is not None and row.access_token_env is not None:
            return self._from_environment(phone_number_id, row.access_token_env)
        if phone_number_id and phone_number_id == self.server_number.phone_number_id:
            token = self.server_number.access_token
            return (token, "") if token else (None, f"{SERVER_TOKEN_SETTING} is not set")
        if row is None:
            return None, f"phone number {phone_number_id!r} is not registered"
        return None, (
            f"phone number {phone_number_id} has no access token: set one with "
            "PATCH /api/phone-numbers/{id} (access_token or access_token_env)"
        )

    def _open(self, phone_number_id: str, sealed: str) -> tuple[str | None, str]:
        try:
            return self._cipher.decrypt(sealed), ""
        except SecretKeyError as error:
            return None, f"the access token of phone number {phone_number_id} is unusable: {error}"

    def _from_environment(self, phone_number_id: str, name: str) -> tuple[str | None, str]:
        token = self._environ.get(name, "").strip()
        if token:
            return token, ""
        return None, (
            f"environment variable {name} (the access token of phone number "
            f"{phone_number_id}) is not set in this process"
        )
