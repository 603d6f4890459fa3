"""``/api/workflow-templates``: templates with versions, inheritance, forks and ratings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from convoflow.api.deps import (
    CurrentUser,
    DbSessionDep,
    FreshStatistics,
    RuntimeDep,
    reject_nul_characters,
)
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Deleted, Page
from convoflow.api.schemas.templates import (
    ForkIn,
    RatingIn,
    RatingOut,
    SortField,
    SortOrder,
    TemplateIn,
    TemplateOut,
    TemplateSummary,
    TemplateType,
    TemplateVersion,
    WorkflowType,
)
from convoflow.services.templates import admin as templates_admin
from convoflow.services.templates import history as template_history
from convoflow.services.templates import queries as template_queries
from convoflow.services.templates import ratings as template_ratings
from convoflow.services.templates.queries import TemplateFilters

router = APIRouter(
    prefix="/api/workflow-templates",
    tags=["templates"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)
SAVE_ACTION_HEADER = "X-Convoflow-Save"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateOut,
    responses=error_responses(409),
)
async def create_template(
    body: TemplateIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> TemplateOut:
    """Create a template (native, Flow Runner or single-interactive format)."""
    saved = await templates_admin.create_template(
        db_session, runtime.catalog, caller=caller, document=body.document()
    )
    return TemplateOut.of(saved.template)


@router.get("", response_model=Page[TemplateSummary], dependencies=[FreshStatistics])
async def list_templates(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    category: str | None = None,
    workflow_type: WorkflowType | None = None,
    template_type: TemplateType | None = None,
    is_public: bool | None = None,
    is_active: bool | None = None,
    mine: Annotated[bool, Query(description="Only your own templates.")] = False,
    tag: str | None = None,
    q: Annotated[str | None, Query(description="Searched in name and description.")] = None,
    sort: SortField = "created_at",
    order: SortOrder = "desc",
) -> Page[TemplateSummary]:
    """Your templates plus public and built-in ones (latest versions), filtered and sorted."""
    filters = TemplateFilters(
        category=category,
        workflow_type=workflow_type,
        template_type=template_type,
        is_public=is_public,
        is_active=is_active,
        mine=mine,
        tag=tag,
        q=q,
        sort=sort,
        order=order,
        limit=page.limit,
        offset=page.offset,
    )
    rows, total = await template_queries.list_templates(db_session, caller=caller, filters=filters)
    return Page[TemplateSummary].of([TemplateSummary.of(row) for row in rows], total, page)


@router.get("/popular", response_model=Page[TemplateSummary], dependencies=[FreshStatistics])
async def popular_templates(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging, category: str | None = None
) -> Page[TemplateSummary]:
    """Active public templates, most used first, then best rated."""
    rows, total = await template_queries.popular_templates(
        db_session, caller=caller, category=category, page=page
    )
    return Page[TemplateSummary].of([TemplateSummary.of(row) for row in rows], total, page)


@router.get(
    "/{template_id}",
    response_model=TemplateOut,
    responses=error_responses(404),
    dependencies=[FreshStatistics],
)
async def get_template(
    template_id: str, caller: CurrentUser, db_session: DbSessionDep
) -> TemplateOut:
    """One template version (any version id; the family's latest is marked `is_latest`)."""
    row = await template_queries.get_template(db_session, caller=caller, template_id=template_id)
    return TemplateOut.for_viewer(row, caller.id)


@router.put("/{template_id}", response_model=TemplateOut, responses=error_responses(403, 404, 409))
async def update_template(
    template_id: str,
    body: TemplateIn,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> TemplateOut:
    """Write a new version; an unchanged definition returns the current version as it is.

    The `X-Convoflow-Save` header says `updated` or `unchanged`.
    """
    saved = await templates_admin.update_template(
        db_session,
        runtime.catalog,
        caller=caller,
        template_id=template_id,
        document=body.document(),
    )
    response.headers[SAVE_ACTION_HEADER] = saved.action
    return TemplateOut.of(saved.template)


@router.delete("/{template_id}", response_model=Deleted, responses=error_responses(403, 404, 409))
async def delete_template(
    template_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    purge: Annotated[bool, Query(description="Remove every version (only when unused).")] = False,
) -> Deleted:
    """Deactivate the template (running conversations finish); `purge=true` removes it."""
    action = await templates_admin.delete_template(
        db_session, runtime.catalog, caller=caller, template_id=template_id, purge=purge
    )
    return Deleted(id=template_id, action=action)


@router.get(
    "/{template_id}/versions", response_model=Page[TemplateVersion], responses=error_responses(404)
)
async def template_versions(
    template_id: str, caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[TemplateVersion]:
    """Every version of the template, newest first, with its changelog and author."""
    found = await template_history.template_versions(
        db_session, caller=caller, template_id=template_id, page=page
    )
    items = [TemplateVersion.of(row, author=found.author) for row in found.rows]
    return Page[TemplateVersion].of(items, found.total, page)


@router.get(
    "/{template_id}/lineage", response_model=Page[TemplateSummary], responses=error_responses(404)
)
async def template_lineage(
    template_id: str, caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[TemplateSummary]:
    """The inheritance chain from this template up to its root."""
    rows, total = await template_queries.template_lineage(
        db_session, caller=caller, template_id=template_id, page=page
    )
    return Page[TemplateSummary].of([TemplateSummary.of(row) for row in rows], total, page)


@router.post(
    "/{template_id}/fork",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateOut,
    responses=error_responses(404, 409),
)
async def fork_template(
    template_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    body: ForkIn | None = None,
) -> TemplateOut:
    """A private copy of the template, owned by you, whose base template is the source."""
    row = await templates_admin.fork_template(
        db_session,
        runtime.catalog,
        caller=caller,
        template_id=template_id,
        name=body.name if body else None,
    )
    return TemplateOut.of(row)


@router.post("/{template_id}/ratings", response_model=RatingOut, responses=error_responses(404))
async def rate_template(
    template_id: str,
    body: RatingIn,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> RatingOut:
    """Rate the template from 1 to 5: one rating per user, rating again replaces yours.

    Any version id rates the template as a whole; the answer names its latest version and
    gives the average and count of everyone's ratings.
    """
    rated = await template_ratings.rate_template(
        db_session,
        caller=caller,
        template_id=template_id,
        rating=body.rating,
        now=runtime.clock.now(),
    )
    return RatingOut(
        template_id=rated.template_id,
        rating=rated.rating,
        rating_count=rated.rating_count,
        your_rating=rated.your_rating,
    )
