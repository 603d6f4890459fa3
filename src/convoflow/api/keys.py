"""``/api/keys``: the caller's own API keys: list, create (the key shown once), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.keys import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from convoflow.services.access import keys as api_keys

router = APIRouter(
    prefix="/api/keys",
    tags=["account"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.get("", response_model=Page[ApiKeyOut])
async def list_keys(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
) -> Page[ApiKeyOut]:
    """Your API keys, newest first, revoked ones included; never the keys themselves."""
    rows, total = await api_keys.list_keys(db_session, caller=caller, page=page)
    return Page[ApiKeyOut].of([ApiKeyOut.of(row) for row in rows], total, page)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_key(
    caller: CurrentUser, db_session: DbSessionDep, body: ApiKeyIn | None = None
) -> ApiKeyCreated:
    """A new API key for you; `key` is the plain key, shown in this answer only."""
    issued = await api_keys.create_key(db_session, caller=caller, label=body.label if body else "")
    return ApiKeyCreated.issued(issued.key, issued.plain_key)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def revoke_key(
    key_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> Response:
    """Revoke one of your keys (also the one you call with): it answers 401 from now on.

    The key stays in your list, marked revoked. Revoking it again changes nothing.
    """
    await api_keys.revoke_key(db_session, caller=caller, key_id=key_id, now=runtime.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
