"""How a workflow instance moves: legal status changes, completion, dependencies.

::

    active ⇄ waiting ──► completed | failed | cancelled        (failed ──► active: retry)

Completing runs the template's ``workflow_dependencies`` first: the instance is
``waiting`` (``pending_dependencies`` names them) while their calls run as background
jobs (``workflow_effects`` rows of kind ``dependency``); when the last one succeeds it
completes and its end action is queued (an ``end_action`` row). A failed dependency
follows its ``on_failure``: the instance fails, or goes back to ``active`` at a step.

These functions change rows in the caller's transaction; they never commit.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import EndAction, Template, coerce_state_data
from convoflow.engine.render import render, render_value
from convoflow.errors import Conflict, InvalidStateData
from convoflow.services.conversations.outcomes import (
    DEPENDENCY_KIND,
    abandon_dependency_calls,
    finish,
)
from convoflow.services.templates.dependency_specs import WorkflowDependency, parse_dependencies
from convoflow.services.templates.tallies import count_run_finished
from convoflow.store.local_channels import is_simulated
from convoflow.store.models import WorkflowEffect, WorkflowInstance, WorkflowTemplate
from convoflow.store.types import new_id

TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"waiting", "completed", "failed", "cancelled"}),
    "waiting": frozenset({"active", "completed", "failed", "cancelled"}),
    "failed": frozenset({"active", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
END_ACTION_KIND = "end_action"
SUCCESS_TEXT = "Update: {name} is done."
FAILURE_TEXT = "Update: {name} could not be completed."


def check_transition(current: str, target: str) -> None:
    """Refuse (Conflict) a status change the lifecycle does not allow."""
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing"
        raise Conflict(f"an instance cannot go from {current} to {target} (allowed: {allowed})")


def checked_state_data(template: Template, data: dict[str, Any]) -> dict[str, Any]:
    """Values of a ``state_data`` update, typed by the template's ``state_schema``.

    A template without a schema accepts any data; otherwise an unknown field or a value of
    the wrong type is refused with the field named (:class:`InvalidStateData`).
    """
    if not template.state_schema:
        return dict(data)
    values, errors = coerce_state_data(template.state_schema, data)
    if errors:
        raise InvalidStateData(errors)
    return values


def merge_state_data(instance: WorkflowInstance, values: dict[str, Any]) -> None:
    """Merge checked values into the instance's data (None clears a field)."""
    merged = dict(instance.state_data)
    for name, value in values.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    instance.state_data = merged


def dependency_wait(instance: WorkflowInstance, row: WorkflowTemplate) -> bool:
    """True when the instance waits for its template's dependencies (not for a step)."""
    names = {dependency.name for dependency in parse_dependencies(row.workflow_dependencies)}
    pending = set(instance.pending_dependencies)
    return instance.status == "waiting" and bool(pending) and pending <= names


def _waiting_text(names: list[str]) -> str | None:
    return ", ".join(names)[:200] if names else None


def _dependency_effect(
    instance: WorkflowInstance, dependency: WorkflowDependency, contact: dict[str, str]
) -> WorkflowEffect:
    data = instance.state_data
    effect_id = f"{DEPENDENCY_KIND}:{dependency.name}:{new_id()}"
    spec = {
        "effect_id": effect_id,
        "step_id": f"{DEPENDENCY_KIND}:{dependency.name}",
        "method": dependency.method,
        "url": render(dependency.url, data, contact) if dependency.url else "",
        "headers": {key: render(value, data, contact) for key, value in dependency.headers.items()},
        "body": render_value(dependency.body, data, contact),
        "timeout_seconds": dependency.timeout,
        "max_attempts": dependency.attempts,
        "name": dependency.name,
        "on_failure": dependency.on_failure,
        "wait_for_callback": dependency.wait_for_callback,
    }
    return WorkflowEffect(
        owner_id=instance.owner_id,
        instance_id=instance.id,
        effect_id=effect_id,
        kind=DEPENDENCY_KIND,
        spec=spec,
        status="pending",
        attempts=0,
    )


async def request_completion(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    row: WorkflowTemplate,
    template: Template,
    *,
    contact: dict[str, str],
    now: datetime,
) -> list[str]:
    """Complete the instance, or start its dependencies first; returns new effect row ids."""
    missing = {
        name: "required to complete the instance"
        for name, spec in template.state_schema.items()
        if spec.required and instance.state_data.get(name) in (None, "")
    }
    if missing:
        raise InvalidStateData(missing)
    dependencies = parse_dependencies(row.workflow_dependencies)
    if not dependencies:
        return await complete(db_session, instance, row, contact=contact, now=now)
    names = [dependency.name for dependency in dependencies]
    instance.status = "waiting"
    instance.pending_dependencies = names
    instance.waiting_for = _waiting_text(names)
    instance.last_interaction = now
    effects = [_dependency_effect(instance, dep, contact) for dep in dependencies if dep.url]
    for effect in effects:
        effect.next_attempt_at = now
    db_session.add_all(effects)
    await db_session.flush()
    return [effect.id for effect in effects]


async def complete(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    row: WorkflowTemplate,
    *,
    contact: dict[str, str],
    now: datetime,
) -> list[str]:
    """Mark the instance completed and queue its end action; returns new effect row ids."""
    instance.status = "completed"
    instance.completed_at = now
    instance.last_interaction = now
    instance.waiting_for = None
    instance.pending_dependencies = []
    instance.error = None
    if not is_simulated(instance.user_id):
        await count_run_finished(db_session, template_id=row.id, succeeded=True)
    if not row.end_action_type:
        return []
    effect_id = f"{END_ACTION_KIND}:{new_id()}"
    action = EndAction(
        effect_id=effect_id,
        action_type=row.end_action_type,
        target=render_value(row.end_action_target or {}, instance.state_data, contact),
        state_data=dict(instance.state_data),
    )
    effect = WorkflowEffect(
        owner_id=instance.owner_id,
        instance_id=instance.id,
        effect_id=effect_id,
        kind=END_ACTION_KIND,
        spec=asdict(action),
        status="pending",
        attempts=0,
        next_attempt_at=now,
    )
    db_session.add(effect)
    await db_session.flush()
    return [effect.id]


async def apply_dependency_outcome(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    row: WorkflowTemplate,
    dependency: WorkflowDependency,
    *,
    ok: bool,
    data: Any,
    error: str,
    contact: dict[str, str],
    now: datetime,
) -> tuple[list[str], str]:
    """A dependency succeeded or finally failed: move the instance on.

    Returns the new effect row ids (the end action, on completion) and the text to tell
    the customer.
    """
    name = dependency.name
    if ok:
        if dependency.save_as:
            merge_state_data(instance, {dependency.save_as: data})
        pending = [item for item in instance.pending_dependencies if item != name]
        instance.pending_dependencies = pending
        instance.waiting_for = _waiting_text(pending)
        instance.last_interaction = now
        text = dependency.success_message or SUCCESS_TEXT.format(name=name)
        if pending:
            return [], text
        return await complete(db_session, instance, row, contact=contact, now=now), text
    text = dependency.failure_message or FAILURE_TEXT.format(name=name)
    reason = f"dependency {name} failed: {error or 'no reason given'}"
    goto = dependency.goto_step
    if goto is None:
        await finish(db_session, instance, "failed", now=now, error=reason)
        return [], text
    await abandon_dependency_calls(db_session, instance.id, reason=reason)
    instance.status = "active"
    instance.current_step = goto
    instance.visited_steps = [*instance.visited_steps, goto]
    instance.pending_dependencies = []
    instance.waiting_for = None
    instance.last_interaction = now
    instance.error = f"{reason}; continued at step {goto}"
    return [], text
