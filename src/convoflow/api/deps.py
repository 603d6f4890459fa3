"""Dependencies of the admin routers, as ``Annotated`` aliases that read like type hints.

``DbSessionDep`` is a database session that has not begun a transaction: each service
function begins and commits its own. ``CurrentUser`` authenticates the bearer API key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.api.text_guard import first_bad_json_text, first_bad_parameter
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


async def get_db_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session for one request; the service called with it owns the transaction."""
    async with runtime.db_sessions() as db_session:
        yield db_session


DbSessionDep = Annotated[AsyncSession, Depends(get_db_session)]


async def current_user(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The platform user of the bearer API key (401 when missing, unknown or revoked)."""
    async with runtime.db_sessions() as db_session:
        return await authenticate(
            db_session,
            credentials.credentials if credentials else None,
            now=runtime.clock.now(),
        )


CurrentUser = Annotated[Caller, Depends(current_user)]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def reject_nul_characters(request: Request) -> None:
    """Refuse text the database cannot store (NUL characters, lone surrogates) anywhere
    in the request, naming the parameter or body field it is in."""
    found = first_bad_parameter(request.path_params.items()) or first_bad_parameter(
        request.query_params.multi_items()
    )
    if found is None and request.method in BODY_METHODS:
        found = first_bad_json_text(await request.body())
    if found is not None:
        field, reason = found
        raise InvalidData(field, reason)


async def flush_statistics(runtime: RuntimeDep) -> None:
    """Write the statistics the aggregator still holds, so usage figures read are exact."""
    await runtime.statistics.flush_for_reading()


FreshStatistics = Depends(flush_statistics)
"""A route dependency: statistics are flushed before the route reads them."""
