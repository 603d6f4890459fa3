"""``/api/user-types``, ``/api/permissions`` and ``/api/contacts``: who may start what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Deleted, Page
from convoflow.api.schemas.permissions import (
    ContactOut,
    ContactUpdate,
    PermissionIn,
    PermissionOut,
    UserTypeIn,
    UserTypeOut,
    UserTypeUpdate,
)
from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller
from convoflow.services.templates import permissions

router = APIRouter(
    prefix="/api",
    tags=["permissions"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.post(
    "/user-types",
    status_code=status.HTTP_201_CREATED,
    response_model=UserTypeOut,
    responses=error_responses(409),
)
async def create_user_type(
    body: UserTypeIn, caller: CurrentUser, db_session: DbSessionDep
) -> UserTypeOut:
    """Create a kind of customer, e.g. `verified_users`."""
    row = await permissions.create_user_type(
        db_session, caller=caller, name=body.name, description=body.description
    )
    return UserTypeOut.of(row)


@router.get("/user-types", response_model=Page[UserTypeOut])
async def list_user_types(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[UserTypeOut]:
    """Your user types, by name."""
    rows, total = await permissions.list_user_types(db_session, caller=caller, page=page)
    return Page[UserTypeOut].of([UserTypeOut.of(row) for row in rows], total, page)


@router.get(
    "/user-types/{user_type_id}", response_model=UserTypeOut, responses=error_responses(404)
)
async def get_user_type(
    user_type_id: str, caller: CurrentUser, db_session: DbSessionDep
) -> UserTypeOut:
    """One of your user types."""
    row = await permissions.get_user_type(db_session, caller=caller, user_type_id=user_type_id)
    return UserTypeOut.of(row)


@router.put(
    "/user-types/{user_type_id}", response_model=UserTypeOut, responses=error_responses(404, 409)
)
async def update_user_type(
    user_type_id: str, body: UserTypeUpdate, caller: CurrentUser, db_session: DbSessionDep
) -> UserTypeOut:
    """Rename or describe a user type."""
    row = await permissions.update_user_type(
        db_session,
        caller=caller,
        user_type_id=user_type_id,
        name=body.name,
        description=body.description,
    )
    return UserTypeOut.of(row)


@router.delete("/user-types/{user_type_id}", response_model=Deleted, responses=error_responses(404))
async def delete_user_type(
    user_type_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> Deleted:
    """Delete a user type: its permissions go, its customers keep no type."""
    await permissions.delete_user_type(
        db_session, runtime.catalog, caller=caller, user_type_id=user_type_id
    )
    return Deleted(id=user_type_id, action="deleted")


@router.post(
    "/permissions",
    status_code=status.HTTP_201_CREATED,
    response_model=PermissionOut,
    responses=error_responses(403, 404, 409),
)
async def grant_permission(
    body: PermissionIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> PermissionOut:
    """Permit customers of a user type to start one of your templates (all its versions).

    A template with no permission is open to every customer; once it has one, only the
    permitted user types may start it, by trigger or through `/api/workflows`.
    """
    view = await permissions.grant(
        db_session,
        runtime.catalog,
        caller=caller,
        user_type_id=body.user_type_id,
        template_id=body.workflow_template_id,
    )
    return PermissionOut.of(view)


@router.get("/permissions", response_model=Page[PermissionOut])
async def list_permissions(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    workflow_template_id: str | None = None,
    user_type_id: str | None = None,
) -> Page[PermissionOut]:
    """Your permissions, oldest first, optionally for one template or one user type."""
    views, total = await permissions.list_permissions(
        db_session,
        caller=caller,
        template_id=workflow_template_id,
        user_type_id=user_type_id,
        page=page,
    )
    return Page[PermissionOut].of([PermissionOut.of(view) for view in views], total, page)


@router.delete(
    "/permissions/{permission_id}", response_model=Deleted, responses=error_responses(404)
)
async def revoke_permission(
    permission_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> Deleted:
    """Remove a permission."""
    await permissions.revoke(
        db_session, runtime.catalog, caller=caller, permission_id=permission_id
    )
    return Deleted(id=permission_id, action="deleted")


@router.get("/contacts", response_model=Page[ContactOut])
async def list_contacts(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    user_type_id: str | None = None,
    q: Annotated[str | None, Query(description="Searched in name and number.")] = None,
) -> Page[ContactOut]:
    """Your WhatsApp customers, most recently seen first."""
    rows, total = await permissions.list_contacts(
        db_session,
        caller=caller,
        user_type_id=user_type_id,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[ContactOut].of([ContactOut.of(row) for row in rows], total, page)


@router.get("/contacts/{contact}", response_model=ContactOut, responses=error_responses(404))
async def get_contact(contact: str, caller: CurrentUser, db_session: DbSessionDep) -> ContactOut:
    """A customer by contact id or WhatsApp number."""
    return ContactOut.of(
        await permissions.get_contact(db_session, caller=caller, reference=contact)
    )


@router.patch("/contacts/{contact}", response_model=ContactOut, responses=error_responses(404))
async def update_contact(
    contact: str,
    body: ContactUpdate,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> ContactOut:
    """Set an existing customer's user type."""
    return await _set_contact(db_session, runtime, caller, contact, body, create=False)


@router.put("/contacts/{contact}", response_model=ContactOut)
async def put_contact(
    contact: Annotated[str, Path(min_length=1, max_length=160)],
    body: ContactUpdate,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> ContactOut:
    """Set a customer's user type, adding the customer (by WhatsApp number) if unknown."""
    return await _set_contact(db_session, runtime, caller, contact, body, create=True)


async def _set_contact(
    db_session: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    reference: str,
    body: ContactUpdate,
    *,
    create: bool,
) -> ContactOut:
    row = await permissions.set_contact(
        db_session,
        caller=caller,
        reference=reference,
        user_type_id=body.user_type_id,
        name=body.name,
        create=create,
        now=runtime.clock.now(),
    )
    return ContactOut.of(row)
