"""Reading templates through the admin API: lists with filters, lineage, popular (the
version history is :mod:`convoflow.services.templates.history`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.access.callers import Caller, visible_template, visible_to
from convoflow.store import templates
from convoflow.store.models import WorkflowTemplate
from convoflow.store.paging import PageRequest, read_page, slice_page

SORT_COLUMNS = {
    "usage_count": WorkflowTemplate.usage_count,
    "rating": WorkflowTemplate.rating,
    "created_at": WorkflowTemplate.created_at,
    "name": WorkflowTemplate.template_name,
}


@dataclass(frozen=True, slots=True)
class TemplateFilters:
    """What to list: every filter is optional; ``q`` searches name and description."""

    category: str | None = None
    workflow_type: str | None = None
    template_type: str | None = None
    is_public: bool | None = None
    is_active: bool | None = None
    mine: bool = False
    tag: str | None = None
    q: str | None = None
    sort: str = "created_at"
    order: str = "desc"
    limit: int = 50
    offset: int = 0


def _filtered(db_session: AsyncSession, caller: Caller, filters: TemplateFilters) -> Select[str]:
    query = select(WorkflowTemplate.id).where(
        WorkflowTemplate.is_latest.is_(True), visible_to(caller)
    )
    if filters.mine:
        query = query.where(WorkflowTemplate.owner_id == caller.id)
    if filters.category is not None:
        query = query.where(WorkflowTemplate.category == filters.category.strip().lower())
    if filters.workflow_type is not None:
        query = query.where(WorkflowTemplate.workflow_type == filters.workflow_type)
    if filters.template_type is not None:
        query = query.where(WorkflowTemplate.template_type == filters.template_type)
    if filters.is_public is not None:
        query = query.where(WorkflowTemplate.is_public.is_(filters.is_public))
    if filters.is_active is not None:
        query = query.where(WorkflowTemplate.is_active.is_(filters.is_active))
    if filters.tag:
        query = query.where(templates.list_contains(db_session, "tags", filters.tag))
    if filters.q:
        query = query.where(
            or_(
                WorkflowTemplate.template_name.icontains(filters.q, autoescape=True),
                WorkflowTemplate.description.icontains(filters.q, autoescape=True),
            )
        )
    return query


async def list_templates(
    db_session: AsyncSession, *, caller: Caller, filters: TemplateFilters
) -> tuple[list[WorkflowTemplate], int]:
    """One page of the latest versions the caller may see, and the total number of matches."""
    async with db_session.begin():
        matching = _filtered(db_session, caller, filters).subquery()
        total = (await db_session.execute(select(func.count()).select_from(matching))).scalar_one()
        column = SORT_COLUMNS[filters.sort]
        ordering = column.asc() if filters.order == "asc" else column.desc()
        rows = await db_session.execute(
            select(WorkflowTemplate)
            .where(WorkflowTemplate.id.in_(select(matching.c.id)))
            .order_by(ordering, WorkflowTemplate.id)
            .limit(filters.limit)
            .offset(filters.offset)
        )
        return list(rows.scalars()), int(total)


async def popular_templates(
    db_session: AsyncSession, *, caller: Caller, category: str | None, page: PageRequest
) -> tuple[list[WorkflowTemplate], int]:
    """One page of the active public templates, most used first, then best rated; the total."""
    query = select(WorkflowTemplate).where(
        WorkflowTemplate.is_latest.is_(True),
        WorkflowTemplate.is_active.is_(True),
        WorkflowTemplate.is_public.is_(True),
    )
    if category is not None:
        query = query.where(WorkflowTemplate.category == category.strip().lower())
    query = query.order_by(
        WorkflowTemplate.usage_count.desc(),
        WorkflowTemplate.rating.desc(),
        WorkflowTemplate.rating_count.desc(),
        WorkflowTemplate.id,
    )
    async with db_session.begin():
        rows, total = await read_page(db_session, query, page)
        return list(rows.scalars()), total


async def get_template(
    db_session: AsyncSession, *, caller: Caller, template_id: str
) -> WorkflowTemplate:
    """A template version the caller may see (404 otherwise)."""
    async with db_session.begin():
        return await visible_template(db_session, caller, template_id)


async def template_lineage(
    db_session: AsyncSession, *, caller: Caller, template_id: str, page: PageRequest
) -> tuple[list[WorkflowTemplate], int]:
    """One page of the inheritance chain from the template up to its root; its length.

    The chain is one recursive query (at most 100 links). Ancestors the caller may not
    see (another owner's private template) are left out.
    """
    async with db_session.begin():
        await visible_template(db_session, caller, template_id)
        chain = await templates.lineage(db_session, template_id)
        visible = []
        for row in chain:
            if row.owner_id == caller.id or row.is_public or row.is_builtin:
                visible.append(row)
        return slice_page(visible, page)
