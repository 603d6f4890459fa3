"""Dependencies of the admin routers, as ``Annotated`` aliases that read like type hints.

``SessionDep`` is a database session that has not begun a transaction: each service
function begins and commits its own. ``CurrentUser`` authenticates the bearer API key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import InvalidData
from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller, authenticate

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="API key",
    description="An API key from `convoflow users create` or `convoflow keys create`.",
)


def get_runtime(request: Request) -> Runtime:
    """The runtime the app's lifespan built."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session for one request; the service called with it owns the transaction."""
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_user(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The platform user of the bearer API key (401 when missing, unknown or revoked)."""
    async with runtime.sessions() as session:
        return await authenticate(session, credentials.credentials if credentials else None)


CurrentUser = Annotated[Caller, Depends(current_user)]

_NUL_IN_TARGET = (b"\x00", b"%00")
_NUL_IN_BODY = (b"\x00", b"\\u0000")


async def reject_nul_characters(request: Request) -> None:
    """Refuse NUL characters anywhere in the request: PostgreSQL cannot store them in text."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    raw_target = path + b"?" + request.scope.get("query_string", b"")
    body = await request.body()
    if any(marker in raw_target for marker in _NUL_IN_TARGET) or any(
        marker in body for marker in _NUL_IN_BODY
    ):
        raise InvalidData("", "NUL characters (\\u0000) are not allowed")
