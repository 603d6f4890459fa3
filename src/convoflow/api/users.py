"""``/api/users``: platform users for the web app's Settings page, and their passwords.

An admin lists and creates users and sets other users' passwords; everyone else sees and
changes only themselves. API keys stay under ``/api/keys``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.users import PasswordChange, UserIn, UserOut
from convoflow.api.sign_in_http import client_ip, sign_in_policy
from convoflow.services.access import users

router = APIRouter(
    prefix="/api/users",
    tags=["account"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.get("", response_model=Page[UserOut])
async def list_users(caller: CurrentUser, db_session: DbSessionDep, page: Paging) -> Page[UserOut]:
    """Users by name: every user for an admin, only yourself otherwise."""
    rows, total = await users.list_users(db_session, caller=caller, page=page)
    return Page[UserOut].of([UserOut.of(row) for row in rows], total, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(403, 409),
)
async def create_user(body: UserIn, caller: CurrentUser, db_session: DbSessionDep) -> UserOut:
    """Create a user who signs in with the given password (admins only; 403 otherwise).

    The user creates their own API keys after signing in (`/api/keys`).
    """
    row = await users.create_user(
        db_session, caller=caller, name=body.name, password=body.password, is_admin=body.is_admin
    )
    return UserOut.of(row)


@router.put(
    "/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 429),
)
async def change_password(
    user_id: str,
    body: PasswordChange,
    request: Request,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Set a password: your own with `current_password`, or (as an admin) another user's.

    The user is signed out everywhere else. A wrong `current_password` answers 422 and
    counts as a failed sign-in (429 after too many).
    """
    await users.change_password(
        db_session,
        caller=caller,
        user_id=user_id,
        password=body.password,
        current_password=body.current_password,
        client_ip=client_ip(request),
        now=runtime.clock.now(),
        policy=sign_in_policy(runtime.settings),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
