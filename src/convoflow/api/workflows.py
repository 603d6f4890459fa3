"""``/api/workflows``: workflow instances, their data, status, dependencies and jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.workflows import (
    DependencyResolution,
    EffectOut,
    InstanceOut,
    InstanceStart,
    InstanceStatus,
    InstanceUpdate,
)
from convoflow.services.workflows import dependencies
from convoflow.services.workflows import instances as workflows
from convoflow.services.workflows.instances import InstanceFilters, StartRequest

router = APIRouter(
    prefix="/api/workflows",
    tags=["workflows"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstanceOut,
    responses=error_responses(403, 404, 409),
)
async def start_instance(
    body: InstanceStart, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> InstanceOut:
    """Start an instance of a template; 403 when the customer's user type is not permitted."""
    request = StartRequest(
        template_id=body.template_id,
        conversation_id=body.conversation_id,
        user_id=body.user_id,
        state_data=body.state_data,
        start_conversation=body.start_conversation,
    )
    instance = await workflows.start_instance(
        runtime.access, db_session, caller=caller, request=request
    )
    return InstanceOut.of(instance)


@router.get("", response_model=Page[InstanceOut])
async def list_instances(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    status: InstanceStatus | None = None,
    template_id: Annotated[
        str | None, Query(description="Any version id: lists the whole template.")
    ] = None,
    user_id: str | None = None,
    conversation_id: str | None = None,
) -> Page[InstanceOut]:
    """Your instances, newest first, filtered by status, template, user or conversation."""
    filters = InstanceFilters(
        status=status,
        template_id=template_id,
        user_id=user_id,
        conversation_id=conversation_id,
        limit=page.limit,
        offset=page.offset,
    )
    rows, total = await workflows.list_instances(db_session, caller=caller, filters=filters)
    return Page[InstanceOut].of([InstanceOut.of(row) for row in rows], total, page)


@router.get("/{instance_id}", response_model=InstanceOut, responses=error_responses(404))
async def get_instance(
    instance_id: str, caller: CurrentUser, db_session: DbSessionDep
) -> InstanceOut:
    """One of your instances."""
    instance = await workflows.get_instance(db_session, caller=caller, instance_id=instance_id)
    return InstanceOut.of(instance)


@router.put("/{instance_id}", response_model=InstanceOut, responses=error_responses(404, 409))
async def update_instance(
    instance_id: str,
    body: InstanceUpdate,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> InstanceOut:
    """Merge `state_data` (422 naming the field on a wrong type) and/or change `status`.

    Legal: active ⇄ waiting → completed | failed | cancelled, failed → active. Completing
    runs the template's dependencies first (the instance is `waiting` meanwhile) and then
    queues its end action; both run in the background.
    """
    instance = await workflows.update_instance(
        runtime.access,
        db_session,
        caller=caller,
        instance_id=instance_id,
        state_data=body.state_data,
        status=body.status,
    )
    return InstanceOut.of(instance)


@router.post(
    "/{instance_id}/dependencies/{name}",
    response_model=InstanceOut,
    responses=error_responses(404, 409),
)
async def resolve_dependency(
    instance_id: str,
    name: Annotated[str, Path(description="The dependency's name, or the http step's id.")],
    body: DependencyResolution,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> InstanceOut:
    """Resolve a dependency the instance waits for (an outside system's late answer).

    The instance moves on (completing when it was the last one); the customer of the
    instance's conversation is told on WhatsApp.
    """
    instance = await dependencies.resolve_dependency(
        runtime.access,
        db_session,
        caller=caller,
        instance_id=instance_id,
        name=name,
        ok=body.ok,
        data=body.data,
        error=body.error,
    )
    return InstanceOut.of(instance)


@router.get(
    "/{instance_id}/effects", response_model=Page[EffectOut], responses=error_responses(404)
)
async def list_effects(
    instance_id: str, caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[EffectOut]:
    """The instance's background jobs (dependency calls, end action), oldest first."""
    rows, total = await workflows.list_effects(
        db_session, caller=caller, instance_id=instance_id, page=page
    )
    return Page[EffectOut].of([EffectOut.of(row) for row in rows], total, page)
