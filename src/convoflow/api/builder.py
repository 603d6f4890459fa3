"""The builder's API: step types, drafts and publishing, version history, variable hints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import ValidationError

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.schemas.builder import (
    DraftOut,
    PublishIn,
    StepTypeList,
    StepTypeOut,
    VariablesOut,
    VersionDiffOut,
)
from convoflow.api.schemas.common import Deleted
from convoflow.api.schemas.templates import TemplateIn, TemplateOut
from convoflow.api.templates import SAVE_ACTION_HEADER
from convoflow.api.validation_paths import validation_details
from convoflow.engine import Problem
from convoflow.engine.catalog import step_types
from convoflow.services.templates import drafts, history
from convoflow.services.templates.variables import variable_hints

step_types_router = APIRouter(prefix="/api", tags=["builder"], responses=error_responses(401))

#: A version number (bounded: the database's integer).
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000, description="The version number.")]

router = APIRouter(
    prefix="/api/workflow-templates",
    tags=["builder"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 404, 422),
)


@step_types_router.get("/step-types", response_model=StepTypeList)
async def list_step_types(_caller: CurrentUser) -> StepTypeList:
    """Every step type the engine runs: its form as JSON Schema, its exits (edges) and the
    WhatsApp limits on its fields. Generated from the engine's step models."""
    return StepTypeList(items=[StepTypeOut.of(spec) for spec in step_types()])


@router.get("/{template_id}/draft", response_model=DraftOut, responses=error_responses(403))
async def get_draft(template_id: str, caller: CurrentUser, db_session: DbSessionDep) -> DraftOut:
    """Your working copy of your template: the saved draft, else the latest version."""
    view = await drafts.get_draft(db_session, caller=caller, template_id=template_id)
    return DraftOut.of(view)


def _shape_problems(document: dict[str, Any]) -> list[Problem]:
    """What the template document schema (the body of PUT) refuses in ``document``."""
    try:
        TemplateIn.model_validate(document)
    except ValidationError as invalid:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in invalid.errors()]
        return [
            Problem(detail.step, detail.field, detail.message)
            for detail in validation_details(errors, document)
        ]
    return []


@router.put("/{template_id}/draft", response_model=DraftOut, responses=error_responses(403))
async def save_draft(
    template_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    document: Annotated[
        dict[str, Any],
        Body(description="The body `PUT /api/workflow-templates/{id}` takes (positions too)."),
    ],
) -> DraftOut:
    """Save your draft. It is stored even with problems (they are returned, located as a
    save would locate them); customers keep running the published version."""
    view = await drafts.save_draft(
        db_session,
        caller=caller,
        template_id=template_id,
        document=document,
        now=runtime.clock.now(),
        request_problems=_shape_problems(document),
    )
    return DraftOut.of(view)


@router.delete("/{template_id}/draft", response_model=Deleted, responses=error_responses(403))
async def discard_draft(template_id: str, caller: CurrentUser, db_session: DbSessionDep) -> Deleted:
    """Throw your draft away (the published version stays as it is)."""
    found = await drafts.discard_draft(db_session, caller=caller, template_id=template_id)
    return Deleted(id=template_id, action="deleted" if found else "unchanged")


@router.post(
    "/{template_id}/publish", response_model=TemplateOut, responses=error_responses(403, 409)
)
async def publish_draft(
    template_id: str,
    body: PublishIn,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> TemplateOut:
    """Write your draft as the next version with a changelog and remove the draft.

    422 with the problems when the draft is invalid (it is kept); 409 without a draft. The
    `X-Convoflow-Save` header says `updated`, or `unchanged` for a draft equal to the
    latest version.
    """
    saved = await drafts.publish_draft(
        db_session,
        runtime.catalog,
        caller=caller,
        template_id=template_id,
        changelog=body.changelog,
    )
    response.headers[SAVE_ACTION_HEADER] = saved.action
    return TemplateOut.of(saved.template)


@router.get("/{template_id}/versions/{version}", response_model=TemplateOut)
async def get_version(
    template_id: str, version: VersionNumber, caller: CurrentUser, db_session: DbSessionDep
) -> TemplateOut:
    """Version number `version` of the template (any of its version ids names it)."""
    row = await history.template_version(
        db_session, caller=caller, template_id=template_id, version=version
    )
    return TemplateOut.for_viewer(row, caller.id)


@router.get("/{template_id}/versions/{version}/diff", response_model=VersionDiffOut)
async def diff_versions(
    template_id: str,
    version: VersionNumber,
    caller: CurrentUser,
    db_session: DbSessionDep,
    against: Annotated[
        int | None,
        Query(ge=1, le=1_000_000, description="The version to compare with (default: previous)."),
    ] = None,
) -> VersionDiffOut:
    """What changed from version `against` to `version`: template fields, graph settings,
    and steps added, removed and changed field by field."""
    compared = await history.version_diff(
        db_session, caller=caller, template_id=template_id, version=version, against=against
    )
    return VersionDiffOut.of(compared)


@router.post(
    "/{template_id}/versions/{version}/restore",
    response_model=TemplateOut,
    responses=error_responses(403, 409),
)
async def restore_version(
    template_id: str,
    version: VersionNumber,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> TemplateOut:
    """Write a new version with the content of `version` (changelog "Restored version N");
    the name, `is_active` and `is_public` stay as they are."""
    saved = await history.restore_version(
        db_session, runtime.catalog, caller=caller, template_id=template_id, version=version
    )
    response.headers[SAVE_ACTION_HEADER] = saved.action
    return TemplateOut.of(saved.template)


@router.get("/{template_id}/variables", response_model=VariablesOut)
async def template_variables(
    template_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    draft: Annotated[
        bool, Query(description="Hints of your draft, when there is one (else the version).")
    ] = True,
) -> VariablesOut:
    """The `{{variables}}` each step may use: contact fields, defaults, state schema
    fields, and what the steps before it set."""
    hints = await variable_hints(db_session, caller=caller, template_id=template_id, draft=draft)
    return VariablesOut.of(hints)
