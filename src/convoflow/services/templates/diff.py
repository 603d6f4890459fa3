"""A readable difference between two template definitions, for the version history.

Template fields are compared one by one; the step graph (``menu_structure``) is compared
by its settings (``menu_structure.start``, ...) and by step id: steps added, removed, and
changed with each changed field's value before and after. ``is_active`` is left out: it
says whether a version is the one running, not what the template is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from convoflow.store.templates import DEFINITION_FIELDS

#: Row flags that are not the template's content.
NOT_CONTENT = frozenset({"is_active", "menu_structure"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field whose value changed."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class StepChange:
    """A step in both definitions, with the fields that differ; ``moved_only`` when only
    its canvas position changed."""

    id: str
    type: str | None
    changes: list[FieldChange]

    @property
    def moved_only(self) -> bool:
        """Whether nothing but the canvas position changed."""
        return all(change.field == "position" for change in self.changes)


@dataclass(slots=True)
class TemplateDiff:
    """What changed from ``before`` to ``after``."""

    fields: list[FieldChange] = field(default_factory=list)
    steps_added: list[dict[str, Any]] = field(default_factory=list)
    steps_removed: list[dict[str, Any]] = field(default_factory=list)
    steps_changed: list[StepChange] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line saying what changed."""
        parts = []
        for count, what in (
            (len(self.steps_added), "added"),
            (len(self.steps_removed), "removed"),
            (len(self.steps_changed), "changed"),
        ):
            if count:
                parts.append(f"{count} step{'s' if count != 1 else ''} {what}")
        if self.fields:
            parts.append(", ".join(change.field for change in self.fields) + " changed")
        return "; ".join(parts) or "no changes"


def _steps(graph: Any) -> dict[str, dict[str, Any]]:
    steps = graph.get("steps") if isinstance(graph, Mapping) else None
    found: dict[str, dict[str, Any]] = {}
    for number, step in enumerate(steps or []):
        if isinstance(step, Mapping):
            found[str(step.get("id", f"steps[{number}]"))] = dict(step)
    return found


def _field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = ""
) -> list[FieldChange]:
    changes = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes.append(FieldChange(f"{prefix}{key}", old, new))
    return changes


def diff_definitions(before: Mapping[str, Any], after: Mapping[str, Any]) -> TemplateDiff:
    """Compare two stored definitions (``template_name`` plus the definition fields)."""
    diff = TemplateDiff()
    names = ("template_name", *DEFINITION_FIELDS)
    content = [name for name in names if name not in NOT_CONTENT]
    diff.fields = _field_changes(
        {name: before.get(name) for name in content}, {name: after.get(name) for name in content}
    )
    old_graph = before.get("menu_structure") or {}
    new_graph = after.get("menu_structure") or {}
    settings = [key for key in dict.fromkeys([*old_graph, *new_graph]) if key != "steps"]
    diff.fields += _field_changes(
        {key: old_graph.get(key) for key in settings},
        {key: new_graph.get(key) for key in settings},
        "menu_structure.",
    )
    old_steps, new_steps = _steps(old_graph), _steps(new_graph)
    diff.steps_added = [step for step_id, step in new_steps.items() if step_id not in old_steps]
    diff.steps_removed = [step for step_id, step in old_steps.items() if step_id not in new_steps]
    for step_id, step in new_steps.items():
        old = old_steps.get(step_id)
        if old is not None and old != step:
            kind = step.get("type")
            diff.steps_changed.append(
                StepChange(step_id, str(kind) if kind else None, _field_changes(old, step))
            )
    return diff
