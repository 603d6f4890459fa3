"""Template specifications: light descriptions from which templates are instantiated.

A spec names a base template (by name: the caller's own, else a built-in or public one)
and the parameters, tools and retrievers a template made from it gets. Instantiating
copies the base template's definition, applies the spec and the request's own fields,
and records the base as the new template's ``base_template_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.templates.admin import insert_template
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.documents import definition_of, prepare_definition
from convoflow.store.models import TemplateSpec, WorkflowTemplate
from convoflow.store.paging import PageRequest, read_page

SPEC_FIELDS = (
    "name",
    "description",
    "workflow_type",
    "default_params",
    "required_tools",
    "required_retrievers",
    "base_template_name",
    "tags",
    "extra_metadata",
)


async def _own_spec(db_session: AsyncSession, caller: Caller, spec_id: str) -> TemplateSpec:
    row = await db_session.get(TemplateSpec, spec_id)
    if row is None or row.owner_id != caller.id:
        raise NotFound(f"template spec {spec_id} does not exist")
    return row


async def _name_free(
    db_session: AsyncSession, caller: Caller, name: str, exclude: str = ""
) -> None:
    clash = await db_session.scalar(
        select(TemplateSpec.id).where(
            TemplateSpec.owner_id == caller.id,
            TemplateSpec.name == name,
            TemplateSpec.id != exclude,
        )
    )
    if clash is not None:
        raise Conflict(f"a template spec named {name!r} already exists")


async def create_spec(
    db_session: AsyncSession, *, caller: Caller, fields: Mapping[str, Any]
) -> TemplateSpec:
    """A new spec owned by the caller (names are unique per owner)."""
    async with db_session.begin():
        await _name_free(db_session, caller, str(fields["name"]))
        row = TemplateSpec(owner_id=caller.id, usage_count=0)
        _apply(row, {"workflow_type": "plain", **fields})
        db_session.add(row)
        await db_session.flush()
        return row


def _apply(row: TemplateSpec, fields: Mapping[str, Any]) -> None:
    for name in SPEC_FIELDS:
        if name in fields and fields[name] is not None:
            setattr(row, name, fields[name])
    if "base_template_name" in fields:
        row.base_template_name = fields["base_template_name"]


async def list_specs(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[TemplateSpec], int]:
    """One page of the caller's specs, by name, and how many there are."""
    query = (
        select(TemplateSpec)
        .where(TemplateSpec.owner_id == caller.id)
        .order_by(TemplateSpec.name, TemplateSpec.id)
    )
    async with db_session.begin():
        rows, total = await read_page(db_session, query, page)
        return list(rows.scalars()), total


async def get_spec(db_session: AsyncSession, *, caller: Caller, spec_id: str) -> TemplateSpec:
    """One of the caller's specs."""
    async with db_session.begin():
        return await _own_spec(db_session, caller, spec_id)


async def update_spec(
    db_session: AsyncSession, *, caller: Caller, spec_id: str, fields: Mapping[str, Any]
) -> TemplateSpec:
    """Change the given fields of a spec."""
    async with db_session.begin():
        row = await _own_spec(db_session, caller, spec_id)
        if fields.get("name") is not None and fields["name"] != row.name:
            await _name_free(db_session, caller, str(fields["name"]), exclude=row.id)
        _apply(row, fields)
        await db_session.flush()
        return row


async def delete_spec(db_session: AsyncSession, *, caller: Caller, spec_id: str) -> None:
    """Delete a spec (templates made from it stay)."""
    async with db_session.begin():
        await db_session.delete(await _own_spec(db_session, caller, spec_id))


async def _base_template(
    db_session: AsyncSession, caller: Caller, name: str
) -> WorkflowTemplate | None:
    """The latest template called ``name``: the caller's own first, then built-in, public."""
    rows = await db_session.execute(
        select(WorkflowTemplate).where(
            WorkflowTemplate.template_name == name,
            WorkflowTemplate.is_latest.is_(True),
            or_(
                WorkflowTemplate.owner_id == caller.id,
                WorkflowTemplate.is_builtin.is_(True),
                WorkflowTemplate.is_public.is_(True),
            ),
        )
    )
    candidates = list(rows.scalars())
    candidates.sort(key=lambda row: (row.owner_id != caller.id, not row.is_builtin, row.id))
    return candidates[0] if candidates else None


def _definition_from(
    spec: TemplateSpec, base: WorkflowTemplate | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    document: dict[str, Any] = definition_of(base) if base is not None else {}
    base_params = document.get("default_params") or {}
    document.update(
        template_name=spec.name,
        description=spec.description or document.get("description", ""),
        workflow_type=spec.workflow_type,
        default_params={**base_params, **spec.default_params},
        required_tools=spec.required_tools or document.get("required_tools") or [],
        required_retrievers=spec.required_retrievers or document.get("required_retrievers") or [],
        tags=sorted({*(document.get("tags") or []), *spec.tags}),
        base_template_id=base.id if base is not None else None,
        is_public=False,
        is_active=True,
    )
    extra = dict(document.get("extra_metadata") or {})
    extra["template_spec"] = spec.name
    document["extra_metadata"] = extra
    document.update({key: value for key, value in overrides.items() if value is not None})
    return document


async def instantiate(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    spec_id: str,
    overrides: Mapping[str, Any],
) -> WorkflowTemplate:
    """Create a template from a spec: its base template, default params, tools, retrievers."""
    overrides = dict(overrides)
    if "name" in overrides:
        overrides.setdefault("template_name", overrides.pop("name"))
    async with db_session.begin():
        spec = await _own_spec(db_session, caller, spec_id)
        base = None
        if spec.base_template_name:
            base = await _base_template(db_session, caller, spec.base_template_name)
            if base is None and "menu_structure" not in overrides:
                message = f"no template named {spec.base_template_name!r}; send menu_structure"
                raise InvalidData("base_template_name", message)
        elif "menu_structure" not in overrides:
            raise InvalidData("menu_structure", "required: the spec names no base template")
        data = prepare_definition(_definition_from(spec, base, overrides))
        row = await insert_template(db_session, caller, data, changelog=f"from spec {spec.name}")
        await db_session.execute(
            update(TemplateSpec)
            .where(TemplateSpec.id == spec.id)
            .values(usage_count=TemplateSpec.usage_count + 1)
        )
    catalog.invalidate()
    return row
