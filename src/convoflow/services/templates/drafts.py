"""The builder's drafts: an unpublished working copy per template, published as a version.

A draft is the document ``PUT /api/workflow-templates/{id}`` takes (canvas positions
included), stored apart from the versions, so customers keep running the published
version until the owner publishes. Saving a draft with problems is allowed — it is stored
with them, so no work is lost — and publishing checks it like any save (422 with the
problems). The simulator runs a draft through a snapshot: a template row of its own,
never latest nor active, made once per distinct draft content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Problem, TemplateInvalid
from convoflow.errors import Conflict
from convoflow.services.access.callers import Caller, latest_of_family, own_template
from convoflow.services.templates.admin import (
    SavedTemplate,
    reference_problems,
    write_version,
)
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.documents import (
    definition_of,
    document_of,
    merge_definition,
    prepare_definition,
)
from convoflow.store import templates
from convoflow.store.models import DraftSnapshot, TemplateDraft, User, WorkflowTemplate


@dataclass(slots=True)
class DraftView:
    """A template's working copy: its draft, or the latest version when it has none."""

    latest: WorkflowTemplate
    document: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    draft: TemplateDraft | None = None
    updated_by: str | None = None


async def _latest_owned(
    db_session: AsyncSession, caller: Caller, template_id: str
) -> WorkflowTemplate:
    row = await own_template(db_session, caller, template_id)
    return row if row.is_latest else await latest_of_family(db_session, row.family_id)


async def _view(
    db_session: AsyncSession, latest: WorkflowTemplate, draft: TemplateDraft | None
) -> DraftView:
    if draft is None:
        return DraftView(latest, document_of(latest))
    problems = [Problem(**problem) for problem in draft.problems]
    author = await db_session.get(User, draft.updated_by) if draft.updated_by else None
    return DraftView(
        latest, dict(draft.document), problems, draft, author.username if author else None
    )


async def get_draft(db_session: AsyncSession, *, caller: Caller, template_id: str) -> DraftView:
    """The caller's working copy of their template (any version id names it)."""
    async with db_session.begin():
        latest = await _latest_owned(db_session, caller, template_id)
        draft = await db_session.get(TemplateDraft, latest.family_id)
        return await _view(db_session, latest, draft)


async def draft_problems(
    db_session: AsyncSession,
    caller: Caller,
    latest: WorkflowTemplate,
    document: Mapping[str, Any],
    *,
    request_problems: Sequence[Problem] = (),
) -> list[Problem]:
    """Everything a save of ``document`` over ``latest`` would refuse, as the normal save
    names it; ``request_problems`` are the ones found in the request's shape already."""
    problems = list(request_problems)
    try:
        data = prepare_definition(document, current=definition_of(latest))
    except TemplateInvalid as invalid:
        return problems + invalid.problems
    return problems + await reference_problems(db_session, caller, data, latest.family_id)


async def save_draft(
    db_session: AsyncSession,
    *,
    caller: Caller,
    template_id: str,
    document: Mapping[str, Any],
    now: datetime,
    request_problems: Sequence[Problem] = (),
) -> DraftView:
    """Store the caller's draft of their template with the problems it has (if any)."""
    async with db_session.begin():
        latest = await _latest_owned(db_session, caller, template_id)
        problems = await draft_problems(
            db_session, caller, latest, document, request_problems=request_problems
        )
        draft = await db_session.get(TemplateDraft, latest.family_id)
        if draft is None:
            draft = TemplateDraft(family_id=latest.family_id, owner_id=latest.owner_id)
            db_session.add(draft)
        draft.document = dict(document)
        draft.problems = [problem.to_json() for problem in problems]
        draft.based_on_version = latest.version
        draft.updated_by = caller.id
        draft.updated_at = now
        await db_session.flush()
        return await _view(db_session, latest, draft)


async def discard_draft(db_session: AsyncSession, *, caller: Caller, template_id: str) -> bool:
    """Remove the caller's draft of their template; False when there was none."""
    async with db_session.begin():
        latest = await _latest_owned(db_session, caller, template_id)
        draft = await db_session.get(TemplateDraft, latest.family_id)
        if draft is not None:
            await db_session.delete(draft)
        return draft is not None


async def publish_draft(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    template_id: str,
    changelog: str,
) -> SavedTemplate:
    """Write the draft as the template's next version with ``changelog``; remove the draft.

    An invalid draft is refused with its problems (and kept); without a draft there is
    nothing to publish (Conflict). A draft equal to the latest version writes no version.
    """
    async with db_session.begin():
        latest = await _latest_owned(db_session, caller, template_id)
        draft = await db_session.get(TemplateDraft, latest.family_id)
        if draft is None:
            raise Conflict("the template has no draft to publish; save one first")
        saved = await write_version(db_session, caller, latest, draft.document, changelog=changelog)
        await db_session.delete(draft)
    catalog.invalidate()
    return saved


async def draft_snapshot(
    db_session: AsyncSession, caller: Caller, latest: WorkflowTemplate
) -> WorkflowTemplate | None:
    """The snapshot the simulator runs for the family's draft (None: there is no draft).

    In the caller's open transaction. A draft with problems cannot run (TemplateInvalid).
    The snapshot of the same content is reused; a new one replaces the family's older
    snapshots (ending the simulator sessions that ran them).
    """
    draft = await db_session.get(TemplateDraft, latest.family_id)
    if draft is None:
        return None
    data = prepare_definition(draft.document, current=definition_of(latest))
    data.update(is_public=False, is_active=False)
    config_hash = templates.compute_config_hash(templates.normalise_definition(data))
    older = list(
        (
            await db_session.execute(
                select(WorkflowTemplate)
                .join(DraftSnapshot, DraftSnapshot.template_id == WorkflowTemplate.id)
                .where(DraftSnapshot.family_id == latest.family_id)
            )
        ).scalars()
    )
    for snapshot in older:
        if snapshot.config_hash == config_hash:
            return snapshot
    if older:
        await db_session.execute(
            delete(WorkflowTemplate).where(WorkflowTemplate.id.in_([row.id for row in older]))
        )
    snapshot = await templates.create_snapshot(
        db_session, owner_id=latest.owner_id, version=latest.version + 1, definition=data
    )
    db_session.add(DraftSnapshot(template_id=snapshot.id, family_id=latest.family_id))
    await db_session.flush()
    return snapshot


def lenient_definition(latest: WorkflowTemplate, document: Mapping[str, Any]) -> dict[str, Any]:
    """The definition a draft document describes, without checking it (for hints)."""
    try:
        data, _graph_path = merge_definition(document, current=definition_of(latest))
    except TemplateInvalid:
        return definition_of(latest)
    return data
