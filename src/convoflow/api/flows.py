"""``/api/whatsapp/flow``: Flow Runner compatibility (the Flow Runner's format, both ways)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.schemas.flows import FlowDeleted, FlowIn, FlowOut, FlowRef, FlowUpdate
from convoflow.services.templates import flows
from convoflow.services.templates.flows import FlowChange

router = APIRouter(
    prefix="/api/whatsapp/flow",
    tags=["flow runner"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.get("", response_model=list[FlowOut])
async def list_flows(caller: CurrentUser, db_session: DbSessionDep) -> list[FlowOut]:
    """Your templates as Flow Runner flows, newest first."""
    return [FlowOut.of(row) for row in await flows.list_flows(db_session, caller=caller)]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=FlowOut, responses=error_responses(409)
)
async def create_flow(
    body: FlowIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> FlowOut:
    """Import a flow exported from a Flow Runner (it is served back unchanged)."""
    change = FlowChange(
        name=body.name,
        trigger=body.trigger,
        automation=body.automationJson,
        status=body.status,
        recipients=body.recipientArray,
    )
    row = await flows.create_flow(db_session, runtime.catalog, caller=caller, change=change)
    return FlowOut.of(row)


@router.put("", response_model=FlowOut, responses=error_responses(403, 404, 409))
async def update_flow(
    body: FlowUpdate, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> FlowOut:
    """Change a flow (a new template version; none when nothing changed)."""
    change = FlowChange(
        name=body.name,
        trigger=body.trigger,
        automation=body.automationJson,
        status=body.status,
        recipients=body.recipientArray,
    )
    saved = await flows.update_flow(
        db_session, runtime.catalog, caller=caller, flow_id=body.id, change=change
    )
    return FlowOut.of(saved.template)


@router.delete("", response_model=FlowDeleted, responses=error_responses(403, 404))
async def delete_flow(
    body: FlowRef, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> FlowDeleted:
    """Delete a flow (`{"id"}` in the body): removed when unused, else deactivated."""
    action = await flows.delete_flow(db_session, runtime.catalog, caller=caller, flow_id=body.id)
    return FlowDeleted(id=body.id, action=action)
