"""Which ``{{variables}}`` a step can use: those set before it on some path from the start.

Every step sees the template's ``default_params``, its ``state_schema`` fields and the
contact's ``contact.name``/``contact.phone``; on top of that, what the steps that can run
before it set (an ``ask`` answer, a menu choice and its label, a ``set`` value, an ``http``
result, the fields a ``collect`` step asks for).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .ai_steps import AiClassifyStep, AiExtractStep, AiReplyStep
from .fields import FieldSpec
from .step_base import VariableName
from .steps import AskStep, CollectStep, HttpStep, InteractiveStep, SetStep, Step
from .template import Template

CONTACT_VARIABLES = ("contact.name", "contact.phone")
_STEP: TypeAdapter[Step] = TypeAdapter(Step)
_SCHEMA: TypeAdapter[dict[VariableName, FieldSpec]] = TypeAdapter(dict[VariableName, FieldSpec])


@dataclass(frozen=True, slots=True)
class Variable:
    """A name a ``{{variable}}`` may use; ``source`` is ``contact``, ``default_params``,
    ``state_schema`` or ``step`` (then ``set_by`` names the step)."""

    name: str
    source: str
    set_by: str | None = None


def variables_of_step(step: Step) -> list[str]:
    """The top-level variables a step sets when it runs."""
    if isinstance(step, SetStep):
        return list(step.values)
    if isinstance(step, AskStep):
        return [step.field]
    if isinstance(step, CollectStep):
        return list(step.fields or ())
    if isinstance(step, HttpStep):
        return [step.save_as] if step.save_as else []
    if isinstance(step, InteractiveStep):
        return [step.variable, f"{step.variable}_label"]
    if isinstance(step, AiExtractStep):
        return list(step.fields)
    if isinstance(step, AiReplyStep):
        return [*step.fields, "handoff_reason"]
    if isinstance(step, AiClassifyStep):
        return [step.variable]
    return []


def template_variables(template: Template) -> list[Variable]:
    """What every step of the template may use: contact fields, defaults, schema fields."""
    found = [Variable(name, "contact") for name in CONTACT_VARIABLES]
    found += [Variable(name, "default_params") for name in template.default_params]
    found += [
        Variable(name, "state_schema")
        for name in template.state_schema
        if name not in template.default_params
    ]
    return found


def _predecessors(template: Template) -> dict[str, set[str]]:
    """For each step, the steps with an edge into it."""
    incoming: dict[str, set[str]] = defaultdict(set)
    for step in template.steps:
        for _field, target in step.edges():
            if target is not None:
                incoming[target].add(step.id)
    return incoming


def _ancestors(step_id: str, incoming: dict[str, set[str]]) -> list[str]:
    """Every step that can run before ``step_id`` (itself too when it is on a loop)."""
    seen: dict[str, None] = {}
    todo = list(incoming.get(step_id, ()))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen[current] = None
        todo.extend(incoming.get(current, ()))
    return list(seen)


def available_variables(template: Template) -> dict[str, list[Variable]]:
    """For each step (in template order), every variable it may use, common ones first."""
    common = template_variables(template)
    incoming = _predecessors(template)
    order = {step.id: number for number, step in enumerate(template.steps)}
    available = {}
    for step in template.steps:
        names = {variable.name for variable in common}
        found = list(common)
        for earlier_id in sorted(_ancestors(step.id, incoming), key=order.__getitem__):
            earlier = template.steps_by_id[earlier_id]
            for name in variables_of_step(earlier):
                if name not in names:
                    names.add(name)
                    found.append(Variable(name, "step", earlier_id))
        available[step.id] = found
    return available


def readable_template(
    graph: Mapping[str, Any],
    *,
    name: str,
    state_schema: Mapping[str, Any] | None = None,
    default_params: Mapping[str, Any] | None = None,
) -> Template:
    """A template of the steps of ``graph`` that can be read, for hints while editing.

    A step that does not parse (a draft being edited) is left out instead of refusing the
    whole graph, and so is a state schema that does not; nothing else is checked.
    """
    steps = []
    for raw in graph.get("steps") or []:
        try:
            steps.append(_STEP.validate_python(raw))
        except ValidationError:
            continue
    try:
        schema = _SCHEMA.validate_python(dict(state_schema or {}))
    except ValidationError:
        schema = {}
    start = graph.get("start")
    return Template(
        name=name or "draft",
        start=start if isinstance(start, str) else "",
        steps=tuple(steps),
        state_schema=schema,
        default_params=dict(default_params or {}),
    )
