"""``/api/template-specs``: template specifications and templates made from them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Deleted, Page
from convoflow.api.schemas.template_specs import SpecIn, SpecOut, SpecUpdate
from convoflow.api.schemas.templates import TemplateIn, TemplateOut
from convoflow.services.templates import specs as template_specs

router = APIRouter(
    prefix="/api/template-specs",
    tags=["template specs"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SpecOut, responses=error_responses(409)
)
async def create_spec(body: SpecIn, caller: CurrentUser, db_session: DbSessionDep) -> SpecOut:
    """Create a template specification."""
    row = await template_specs.create_spec(db_session, caller=caller, fields=body.model_dump())
    return SpecOut.of(row)


@router.get("", response_model=Page[SpecOut])
async def list_specs(caller: CurrentUser, db_session: DbSessionDep, page: Paging) -> Page[SpecOut]:
    """Your template specifications, by name."""
    rows, total = await template_specs.list_specs(db_session, caller=caller, page=page)
    return Page[SpecOut].of([SpecOut.of(row) for row in rows], total, page)


@router.get("/{spec_id}", response_model=SpecOut, responses=error_responses(404))
async def get_spec(spec_id: str, caller: CurrentUser, db_session: DbSessionDep) -> SpecOut:
    """One of your template specifications."""
    return SpecOut.of(await template_specs.get_spec(db_session, caller=caller, spec_id=spec_id))


@router.put("/{spec_id}", response_model=SpecOut, responses=error_responses(404, 409))
async def update_spec(
    spec_id: str, body: SpecUpdate, caller: CurrentUser, db_session: DbSessionDep
) -> SpecOut:
    """Change a template specification (fields left out keep their value)."""
    row = await template_specs.update_spec(
        db_session, caller=caller, spec_id=spec_id, fields=body.model_dump(exclude_unset=True)
    )
    return SpecOut.of(row)


@router.delete("/{spec_id}", response_model=Deleted, responses=error_responses(404))
async def delete_spec(spec_id: str, caller: CurrentUser, db_session: DbSessionDep) -> Deleted:
    """Delete a template specification (templates made from it stay)."""
    await template_specs.delete_spec(db_session, caller=caller, spec_id=spec_id)
    return Deleted(id=spec_id, action="deleted")


@router.post(
    "/{spec_id}/instantiate",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateOut,
    responses=error_responses(404, 409),
)
async def instantiate_spec(
    spec_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    body: TemplateIn | None = None,
) -> TemplateOut:
    """Create a template from the spec: its base template, default params, tools, retrievers.

    Any template field in the body (a name, trigger keywords, a graph...) overrides.
    """
    row = await template_specs.instantiate(
        db_session,
        runtime.catalog,
        caller=caller,
        spec_id=spec_id,
        overrides=body.document() if body else {},
    )
    return TemplateOut.of(row)
