"""Flow Runner compatibility: a caller's templates as Flow Runner flows (``/api/whatsapp/flow``).

A Flow Runner stores a flow as ``{name, trigger, automationJson, status}`` where ``trigger``
is a JSON array in a string and ``automationJson`` the steps array. A flow imported here is
stored as a native template; its original steps are kept, so the same flow is served back
unchanged for as long as the template's graph is the one they describe. A template made
another way is exported with :func:`convoflow.engine.to_flow_runner`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Problem, TemplateInvalid, to_flow_runner, to_native
from convoflow.errors import InvalidData
from convoflow.services.access.callers import Caller, latest_of_family, own_template
from convoflow.services.templates import admin as templates_admin
from convoflow.services.templates.admin import SavedTemplate
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.documents import FLOW_RUNNER_STEPS
from convoflow.services.templates.problem_paths import moved
from convoflow.store.models import WorkflowTemplate

GRAPH_FRAME = frozenset({"start", "steps"})
#: Where a flow's ``recipientArray`` is kept (in the template's ``extra_metadata``).
RECIPIENT_ARRAY = "recipient_array"


@dataclass(frozen=True, slots=True)
class FlowChange:
    """A flow as a Flow Runner sends it; None leaves a field as it is (on update)."""

    name: str | None = None
    trigger: list[str] | str | None = None
    automation: list[Any] | str | None = None
    status: str | None = None
    recipients: list[Any] | None = None


def parse_trigger(trigger: list[str] | str | None) -> list[str]:
    """Trigger keywords from a list, a JSON array in a string, or one plain keyword."""
    if trigger is None:
        return []
    if isinstance(trigger, list):
        return [str(item) for item in trigger]
    text = trigger.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InvalidData("trigger", "is not a valid JSON array") from None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise InvalidData("trigger", "must be a JSON array of strings")
        return list(parsed)
    return [text] if text else []


def parse_steps(automation: list[Any] | str) -> list[Any]:
    """The steps array, given as JSON or as a JSON string."""
    if isinstance(automation, str):
        try:
            automation = json.loads(automation)
        except ValueError:
            raise InvalidData("automationJson", "is not valid JSON") from None
    if not isinstance(automation, list):
        raise InvalidData("automationJson", "must be the array of steps")
    return automation


def _document(change: FlowChange, current: WorkflowTemplate | None) -> dict[str, Any]:
    document: dict[str, Any] = {"template_type": "flow"} if current is None else {}
    if change.name is not None:
        document["template_name"] = change.name
    if change.trigger is not None:
        document["trigger_keywords"] = parse_trigger(change.trigger)
    if change.status is not None:
        document["is_active"] = change.status.upper() == "ACTIVE"
    if change.recipients is not None:
        metadata = dict(current.extra_metadata or {}) if current is not None else {}
        metadata[RECIPIENT_ARRAY] = change.recipients
        document["extra_metadata"] = metadata
    if change.automation is not None:
        settings = {}
        if current is not None:
            current_graph = current.menu_structure
            settings = {k: v for k, v in current_graph.items() if k not in GRAPH_FRAME}
        steps = parse_steps(change.automation)
        first = steps[0] if steps and isinstance(steps[0], dict) else {}
        graph: dict[str, Any] = {**settings, "steps": steps}
        if isinstance(first.get("id"), str):
            graph["start"] = first["id"]
        document["menu_structure"] = graph
    elif current is None:
        raise TemplateInvalid([Problem("", "automationJson", "required: the array of steps")])
    return document


def flow_steps(row: WorkflowTemplate) -> list[Any]:
    """The template's steps in the Flow Runner format (the imported ones when unchanged)."""
    original = (row.extra_metadata or {}).get(FLOW_RUNNER_STEPS)
    if isinstance(original, list):
        try:
            graph, _ = to_native({"status": "ACTIVE", "steps": original})
        except TemplateInvalid:
            graph = {}
        frame = {key: row.menu_structure.get(key) for key in GRAPH_FRAME}
        if graph == frame:
            return original
    exported = to_flow_runner(row.template_name, row.menu_structure, row.trigger_keywords)
    steps: list[Any] = exported["steps"]
    return steps


def flow_recipients(row: WorkflowTemplate) -> list[Any]:
    """The flow's ``recipientArray`` (empty when it has none)."""
    found = (row.extra_metadata or {}).get(RECIPIENT_ARRAY)
    return list(found) if isinstance(found, list) else []


async def recipients_of_flow(
    db_session: AsyncSession, *, caller: Caller, flow_id: str
) -> list[Any]:
    """The ``recipientArray`` of the caller's flow (its latest version)."""
    async with db_session.begin():
        row = await own_template(db_session, caller, flow_id)
        current = row if row.is_latest else await latest_of_family(db_session, row.family_id)
        return flow_recipients(current)


async def list_flows(db_session: AsyncSession, *, caller: Caller) -> list[WorkflowTemplate]:
    """The caller's templates (latest versions), newest first."""
    async with db_session.begin():
        rows = await db_session.execute(
            select(WorkflowTemplate)
            .where(WorkflowTemplate.owner_id == caller.id, WorkflowTemplate.is_latest.is_(True))
            .order_by(WorkflowTemplate.created_at.desc(), WorkflowTemplate.id)
        )
        return list(rows.scalars())


async def create_flow(
    db_session: AsyncSession, catalog: TemplateCatalog, *, caller: Caller, change: FlowChange
) -> WorkflowTemplate:
    """Import a Flow Runner flow as a new template."""
    if not change.name:
        raise InvalidData("name", "is required")
    with _problems_named_as_sent():
        saved = await templates_admin.create_template(
            db_session, catalog, caller=caller, document=_document(change, None)
        )
    return saved.template


async def update_flow(
    db_session: AsyncSession,
    catalog: TemplateCatalog,
    *,
    caller: Caller,
    flow_id: str,
    change: FlowChange,
) -> SavedTemplate:
    """Write a new version of the flow (none when nothing changed)."""
    async with db_session.begin():
        row = await own_template(db_session, caller, flow_id)
        current = row if row.is_latest else await latest_of_family(db_session, row.family_id)
        document = _document(change, current)
    with _problems_named_as_sent():
        return await templates_admin.update_template(
            db_session, catalog, caller=caller, template_id=current.id, document=document
        )


@contextmanager
def _problems_named_as_sent() -> Iterator[None]:
    """Name template problems by the flow's fields (`automationJson`, `trigger`)."""
    try:
        yield
    except TemplateInvalid as invalid:
        problems = moved(invalid.problems, "menu_structure.steps", "automationJson")
        problems = moved(problems, "menu_structure", "automationJson")
        problems = moved(problems, "trigger_keywords", "trigger")
        problems = moved(problems, "template_name", "name")
        raise TemplateInvalid(problems) from None


async def delete_flow(
    db_session: AsyncSession, catalog: TemplateCatalog, *, caller: Caller, flow_id: str
) -> str:
    """Remove the flow: purged when no conversation uses it, else deactivated."""
    async with db_session.begin():
        await own_template(db_session, caller, flow_id)
        in_use = await templates_admin.live_uses_of(db_session, flow_id, now=catalog.clock.now())
    return await templates_admin.delete_template(
        db_session, catalog, caller=caller, template_id=flow_id, purge=not in_use
    )
