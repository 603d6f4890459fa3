"""Changing templates through the admin API: create, new version, deactivate, fork.

Each function owns its transaction and forgets the catalog's trigger indexes afterwards,
so a deactivated template stops starting and a new version starts new conversations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Problem, TemplateInvalid
from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.access.callers import (
    Caller,
    latest_of_family,
    own_template,
    visible_template,
)
from convoflow.services.ai.resources import resource_problems
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.documents import (
    definition_of,
    prepare_definition,
    redact_secrets,
)
from convoflow.services.templates.limits import size_problems
from convoflow.services.templates.message_template_steps import check_template_steps
from convoflow.services.templates.problem_paths import locate_graph_problems
from convoflow.store import templates
from convoflow.store.local_channels import real_customer
from convoflow.store.models import ConversationStateRow, WorkflowInstance, WorkflowTemplate

LIVE_INSTANCE_STATUSES = ("active", "waiting")


@dataclass(frozen=True, slots=True)
class SavedTemplate:
    """A template after a save; ``action`` is ``created``, ``updated`` or ``unchanged``."""

    template: WorkflowTemplate
    action: str


async def _check_base(db_session: AsyncSession, caller: Caller, base_template_id: Any) -> None:
    if base_template_id is None:
        return
    try:
        await visible_template(db_session, caller, str(base_template_id))
    except NotFound:
        raise InvalidData("base_template_id", "no such template") from None


async def _check_name_free(
    db_session: AsyncSession, owner_id: str, name: str, family_id: str | None
) -> None:
    existing = await templates.find_latest(db_session, owner_id=owner_id, name=name)
    if existing is not None and existing.family_id != family_id:
        raise Conflict(f"a template named {name!r} already exists")


async def create_template(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    document: Mapping[str, Any],
) -> SavedTemplate:
    """Create version 1 of a template owned by the caller (any accepted format)."""
    data = prepare_definition(document)
    async with db_session.begin():
        row = await insert_template(db_session, caller, data, changelog=document.get("changelog"))
    catalog.invalidate()
    return SavedTemplate(row, "created")


async def insert_template(
    db_session: AsyncSession, caller: Caller, data: Mapping[str, Any], *, changelog: str | None
) -> WorkflowTemplate:
    """Insert a checked definition as the caller's new template (in the open transaction)."""
    await _check_base(db_session, caller, data["base_template_id"])
    await _check_name_free(db_session, caller.id, data["template_name"], None)
    await check_template_steps(db_session, caller.id, data["menu_structure"])
    await _check_ai_resources(db_session, caller, data)
    return await templates.create_template(
        db_session, owner_id=caller.id, definition=data, changelog=changelog
    )


async def update_template(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    template_id: str,
    document: Mapping[str, Any],
) -> SavedTemplate:
    """Write the next version of the caller's template (none when nothing changed)."""
    async with db_session.begin():
        row = await own_template(db_session, caller, template_id)
        saved = await write_version(
            db_session, caller, row, document, changelog=document.get("changelog")
        )
    catalog.invalidate()
    return saved


async def write_version(
    db_session: AsyncSession,
    caller: Caller,
    row: WorkflowTemplate,
    document: Mapping[str, Any],
    *,
    changelog: str | None,
) -> SavedTemplate:
    """Write the next version of the caller's template ``row`` from a document, in the open
    transaction: fields the document leaves out keep the latest version's values."""
    current = row if row.is_latest else await latest_of_family(db_session, row.family_id)
    data = prepare_definition(document, current=definition_of(current))
    await _check_base(db_session, caller, data["base_template_id"])
    await _check_name_free(db_session, caller.id, data["template_name"], current.family_id)
    await check_template_steps(db_session, caller.id, data["menu_structure"])
    await _check_ai_resources(db_session, caller, data)
    result = await templates.save_new_version(
        db_session, current=current, definition=data, changelog=changelog
    )
    return SavedTemplate(result.template, result.action)


async def reference_problems(
    db_session: AsyncSession, caller: Caller, data: Mapping[str, Any], family_id: str
) -> list[Problem]:
    """What a checked definition clashes with: an unknown base template, a name in use."""
    problems = []
    try:
        await _check_base(db_session, caller, data["base_template_id"])
    except InvalidData as invalid:
        problems.append(Problem("", invalid.field, invalid.message))
    try:
        await _check_name_free(db_session, caller.id, data["template_name"], family_id)
    except Conflict as conflict:
        problems.append(Problem("", "template_name", str(conflict)))
    found = await resource_problems(db_session, caller.id, data)
    return problems + locate_graph_problems(found, "menu_structure")


async def _check_ai_resources(
    db_session: AsyncSession, caller: Caller, data: Mapping[str, Any]
) -> None:
    """Refuse tools and knowledge bases the owner has not, or the workflow type forbids."""
    problems = await resource_problems(db_session, caller.id, data)
    if problems:
        raise TemplateInvalid(locate_graph_problems(problems, "menu_structure"))


async def live_uses_of(db_session: AsyncSession, template_id: str, *, now: datetime) -> int:
    """How many live conversations and unfinished instances use the template's family."""
    row = await db_session.get(WorkflowTemplate, template_id)
    return await _live_uses(db_session, row.family_id, now) if row is not None else 0


async def _live_uses(db_session: AsyncSession, family_id: str, now: datetime) -> int:
    versions = select(WorkflowTemplate.id).where(WorkflowTemplate.family_id == family_id)
    # The builder's test customers do not hold a template back: purging ends their runs.
    states = await db_session.execute(
        select(func.count()).where(
            ConversationStateRow.template_id.in_(versions),
            ConversationStateRow.expires_at > now,
            real_customer(ConversationStateRow.phone_number),
        )
    )
    instances = await db_session.execute(
        select(func.count()).where(
            WorkflowInstance.template_id.in_(versions),
            WorkflowInstance.status.in_(LIVE_INSTANCE_STATUSES),
            real_customer(WorkflowInstance.user_id),
        )
    )
    return int(states.scalar_one()) + int(instances.scalar_one())


async def delete_template(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    template_id: str,
    purge: bool,
) -> str:
    """Deactivate the caller's template, or with ``purge`` remove every version.

    Deactivating stops new starts while running conversations finish on their version.
    Purging is refused (Conflict) while a live conversation or instance uses it.
    """
    async with db_session.begin():
        row = await own_template(db_session, caller, template_id)
        if purge:
            uses = await _live_uses(db_session, row.family_id, catalog.clock.now())
            if uses:
                raise Conflict(
                    f"the template is in use by {uses} live conversation(s) or instance(s); "
                    "deactivate it (DELETE without purge) and purge it when they have finished"
                )
            await templates.delete_family(db_session, row.family_id)
            action = "purged"
        else:
            latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
            if latest.is_active:
                await templates.set_active(db_session, template=latest, active=False)
            action = "deactivated"
    catalog.invalidate()
    return action


async def _free_name(db_session: AsyncSession, owner_id: str, wanted: str) -> str:
    base = wanted[:190]
    candidate, number = wanted, 1
    while await templates.find_latest(db_session, owner_id=owner_id, name=candidate) is not None:
        number += 1
        candidate = f"{base}_fork" if number == 2 else f"{base}_fork_{number - 1}"
    return candidate


async def fork_template(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    template_id: str,
    name: str | None,
) -> WorkflowTemplate:
    """A private copy of a visible template version, owned by the caller.

    Its ``base_template_id`` is the source version; without a name it takes the source's
    name, made unique among the caller's templates.
    """
    async with db_session.begin():
        source = await visible_template(db_session, caller, template_id)
        data = definition_of(source)
        if source.owner_id != caller.id:
            data = redact_secrets(data)
        data["template_name"] = name or await _free_name(
            db_session, caller.id, source.template_name
        )
        data.update(base_template_id=source.id, is_public=False, is_active=True)
        changelog = f"forked from {source.template_name} version {source.version}"
        # A template stored before the size limits may exceed them: its fork may not.
        if problems := size_problems(data, changelog=changelog):
            raise TemplateInvalid(problems)
        await _check_name_free(db_session, caller.id, data["template_name"], None)
        row = await templates.create_template(
            db_session, owner_id=caller.id, definition=data, changelog=changelog
        )
    catalog.invalidate()
    return row
