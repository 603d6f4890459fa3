"""A template's version history: list, read one version, compare two, restore an old one.

Versions are immutable rows of one family (see :mod:`convoflow.store.templates`); restoring
writes a new version with the old content, so the history only grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import NotFound
from convoflow.services.access.callers import (
    Caller,
    latest_of_family,
    own_template,
    visible_template,
)
from convoflow.services.templates.admin import SavedTemplate
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.diff import TemplateDiff, diff_definitions
from convoflow.services.templates.documents import check_definition, definition_of, redact_secrets
from convoflow.store import templates
from convoflow.store.models import User, WorkflowTemplate
from convoflow.store.paging import PageRequest, read_page

#: What a restore keeps from the latest version: the name and whether it runs and is shared.
KEPT_ON_RESTORE = ("template_name", "is_active", "is_public")


@dataclass(frozen=True, slots=True)
class VersionPage:
    """One page of a template's versions, newest first; ``author`` wrote them (the owner)."""

    rows: list[WorkflowTemplate]
    total: int
    author: str


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """What changed from version ``against`` to version ``version``."""

    version: int
    against: int | None
    diff: TemplateDiff


async def _author(db_session: AsyncSession, row: WorkflowTemplate) -> str:
    user = await db_session.get(User, row.owner_id)
    return user.username if user is not None else ""


async def template_versions(
    db_session: AsyncSession, *, caller: Caller, template_id: str, page: PageRequest
) -> VersionPage:
    """One page of the versions of the template's family, newest first; the total."""
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        rows, total = await read_page(db_session, templates.versions_query(row.family_id), page)
        return VersionPage(list(rows.scalars()), total, await _author(db_session, row))


async def _version(db_session: AsyncSession, family_id: str, version: int) -> WorkflowTemplate:
    row = (
        await db_session.execute(
            select(WorkflowTemplate).where(
                WorkflowTemplate.family_id == family_id, WorkflowTemplate.version == version
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"the template has no version {version}")
    return row


async def template_version(
    db_session: AsyncSession, *, caller: Caller, template_id: str, version: int
) -> WorkflowTemplate:
    """Version ``version`` of the template ``template_id`` (any of its version ids) names."""
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        return await _version(db_session, row.family_id, version)


async def version_diff(
    db_session: AsyncSession,
    *,
    caller: Caller,
    template_id: str,
    version: int,
    against: int | None,
) -> VersionDiff:
    """What changed from version ``against`` (default: the one before) to ``version``.

    Version 1 without ``against`` is compared with nothing: every step is added. Someone
    else's template is compared without header values (secrets).
    """
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        target = await _version(db_session, row.family_id, version)
        if against is None and version > 1:
            against = version - 1
        base = await _version(db_session, row.family_id, against) if against else None
    after = definition_of(target)
    before = definition_of(base) if base is not None else {}
    if target.owner_id != caller.id:
        after, before = redact_secrets(after), redact_secrets(before) if before else before
    return VersionDiff(version, against, diff_definitions(before, after))


async def restore_version(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    template_id: str,
    version: int,
) -> SavedTemplate:
    """Write a new version with the content of version ``version`` ("Restored version N").

    The name, ``is_active`` and ``is_public`` stay those of the latest version. A version
    that today's checks refuse is not restored (422 with the problems).
    """
    changelog = f"Restored version {version}"
    async with db_session.begin():
        row = await own_template(db_session, caller, template_id)
        latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
        old = await _version(db_session, row.family_id, version)
        data = definition_of(old)
        data.update({name: getattr(latest, name) for name in KEPT_ON_RESTORE})
        check_definition(data, changelog=changelog)
        result = await templates.save_new_version(
            db_session, current=latest, definition=data, changelog=changelog
        )
    catalog.invalidate()
    return SavedTemplate(result.template, result.action)
