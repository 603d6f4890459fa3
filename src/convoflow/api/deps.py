"""Dependencies of the admin routers, as ``Annotated`` aliases that read like type hints.

``DbSessionDep`` is a database session that has not begun a transaction: each service
function begins and commits its own. ``CurrentUser`` authenticates the bearer API key or,
without one, the web app's sign-in cookie (whose changes must carry the CSRF header).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.api.sign_in_http import (
    CSRF_HEADER,
    SESSION_COOKIE,
    STATE_CHANGING_METHODS,
    sign_in_policy,
)
from convoflow.api.text_guard import first_bad_json_text, first_bad_parameter
from convoflow.errors import InvalidData
from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller, identify

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="API key",
    description="An API key from `convoflow users create` or `convoflow keys create`.",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SignInCookie",
    description=(
        "The web app's sign-in (`POST /api/auth/login`). Every POST, PUT, PATCH and "
        f"DELETE sent with it needs the `{CSRF_HEADER}` header of the sign-in."
    ),
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
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_token: Annotated[str | None, Depends(cookie_scheme)],
) -> Caller:
    """The platform user of the bearer API key or, without one, of the sign-in cookie
    (401 when neither is valid; 403 ``csrf_failed`` for a change by cookie without the
    sign-in's CSRF token)."""
    async with runtime.db_sessions() as db_session:
        caller = await identify(
            db_session,
            api_key=credentials.credentials if credentials else None,
            session_token=session_token,
            now=runtime.clock.now(),
            policy=sign_in_policy(runtime.settings),
        )
    if request.method in STATE_CHANGING_METHODS:
        caller.check_csrf(request.headers.get(CSRF_HEADER))
    return caller


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
