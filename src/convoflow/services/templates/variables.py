"""``{{variable}}`` hints for the builder: what each step of a template may use."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.variables import Variable, available_variables, readable_template
from convoflow.engine.variables import template_variables as common_variables
from convoflow.services.access.callers import Caller, latest_of_family, visible_template
from convoflow.services.templates.documents import definition_of
from convoflow.services.templates.drafts import lenient_definition
from convoflow.store.models import TemplateDraft


@dataclass(slots=True)
class VariableHints:
    """The variables of every step of one template version, or of its draft."""

    template_id: str
    from_draft: bool
    common: list[Variable] = field(default_factory=list)
    steps: dict[str, list[Variable]] = field(default_factory=dict)


async def variable_hints(
    db_session: AsyncSession, *, caller: Caller, template_id: str, draft: bool = True
) -> VariableHints:
    """The hints of the template version ``template_id``, or of the family's draft when
    ``draft`` and the caller owns one (a draft with problems gives hints for the steps
    that can be read)."""
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        definition = definition_of(row)
        from_draft = False
        if draft and row.owner_id == caller.id:
            latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
            stored = await db_session.get(TemplateDraft, row.family_id)
            if stored is not None:
                definition = lenient_definition(latest, stored.document)
                from_draft = True
    graph = definition.get("menu_structure")
    template = readable_template(
        graph if isinstance(graph, dict) else {},
        name=str(definition.get("template_name") or ""),
        state_schema=definition.get("state_schema"),
        default_params=definition.get("default_params"),
    )
    return VariableHints(
        template_id=row.id,
        from_draft=from_draft,
        common=common_variables(template),
        steps=available_variables(template),
    )
