"""``/api/auth``: sign in and out of the web app, who is signed in, and the first-run setup.

Sign-in and setup answer the user and the CSRF token and set the session cookie; the
session itself stays on the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.schemas.auth import AuthMe, LoginIn, SetupIn, SetupStatus, SignedInOut
from convoflow.api.sign_in_http import (
    CSRF_HEADER,
    SESSION_COOKIE,
    clear_session_cookie,
    client_ip,
    set_session_cookie,
    sign_in_policy,
)
from convoflow.services.access import first_run, sign_in

router = APIRouter(
    prefix="/api/auth",
    tags=["sign-in"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(422),
)


@router.post("/login", response_model=SignedInOut, responses=error_responses(401, 429))
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> SignedInOut:
    """Sign in with a user name and password; the session comes back as a cookie.

    A wrong password and an unknown user answer the same 401. After too many failures for
    the user name or from your address, 429 with `Retry-After` until the oldest leaves the
    window (also for the right password).
    """
    now = runtime.clock.now()
    signed_in = await sign_in.sign_in(
        db_session,
        username=body.username,
        password=body.password,
        client_ip=client_ip(request),
        now=now,
        policy=sign_in_policy(runtime.settings),
    )
    await _end_previous(request, db_session)
    set_session_cookie(response, request, signed_in.token, settings=runtime.settings)
    return SignedInOut.of(signed_in.caller)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403),
)
async def logout(request: Request, db_session: DbSessionDep, runtime: RuntimeDep) -> Response:
    """Sign out: the session is deleted on the server and the cookie cleared.

    Needs the `X-CSRF-Token` header while the session lasts; without a session it just
    clears the cookie.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sign_in.sign_out(
            db_session, token, csrf_token=request.headers.get(CSRF_HEADER), now=runtime.clock.now()
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, request, settings=runtime.settings)
    return response


@router.get("/me", response_model=AuthMe, responses=error_responses(401))
async def me(caller: CurrentUser) -> AuthMe:
    """Who you are: signed in by cookie (with the CSRF token to send) or by API key."""
    return AuthMe.of(caller)


@router.get("/setup", response_model=SetupStatus)
async def setup_status(db_session: DbSessionDep, runtime: RuntimeDep) -> SetupStatus:
    """Whether the first-run setup is open: the admin has no password yet (no sign-in
    needed to ask)."""
    needed = await first_run.setup_needed(db_session, owner_name=runtime.settings.default_owner)
    return SetupStatus(needed=needed)


@router.post("/setup", response_model=SignedInOut, responses=error_responses(403, 409))
async def complete_setup(
    body: SetupIn,
    request: Request,
    response: Response,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> SignedInOut:
    """Set the admin's password with the token of the setup link `convoflow serve`
    printed, and sign in as the admin.

    403 for an unknown token, 409 for a used one (or once the password is set), 422 for a
    password shorter than 8 characters.
    """
    signed_in = await first_run.complete_setup(
        db_session,
        owner_name=runtime.settings.default_owner,
        token=body.token,
        password=body.password,
        now=runtime.clock.now(),
        policy=sign_in_policy(runtime.settings),
    )
    await _end_previous(request, db_session)
    set_session_cookie(response, request, signed_in.token, settings=runtime.settings)
    return SignedInOut.of(signed_in.caller)


async def _end_previous(request: Request, db_session: DbSessionDep) -> None:
    """A new sign-in replaces the browser's previous one, which is deleted."""
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await sign_in.end_session(db_session, previous)
