"""Template validation: every problem named by step and field, never a raw traceback.

:func:`validate_template` lists the problems of a native graph (or of a built
:class:`Template`); :func:`load_template` accepts any input format (see
:mod:`.importers`), a bare graph or a whole template document (``menu_structure``,
``state_schema``, ...), and returns the :class:`Template` or raises
:class:`TemplateInvalid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .content_checks import limit_problems, variable_problems
from .graph_checks import (
    collect_problems,
    dangling_next,
    end_action_problems,
    graph_problems,
    loops_without_wait,
    timer_problems,
)
from .importers import parse_document, to_native
from .problems import Problem, TemplateInvalid, problems_from_validation_error
from .steps import STEP_TYPES, Step
from .template import Template

_STEP_ADAPTER: TypeAdapter[Step] = TypeAdapter(Step)
DEFAULT_NAME = "untitled"


def _step_problems(raw: Any, number: int, seen: dict[str, int]) -> tuple[list[Problem], Any]:
    """Check one raw step: (problems, parsed step or None)."""
    where = f"steps[{number}]"
    if not isinstance(raw, Mapping):
        return [Problem(where, "", "a step must be an object")], None
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not step_id:
        return [Problem(where, "id", "required: every step needs a text id")], None
    if step_id in seen:
        message = f"duplicate step id (steps[{seen[step_id]}] and {where})"
        return [Problem(step_id, "id", message)], None
    seen[step_id] = number
    step_type = raw.get("type")
    if step_type not in STEP_TYPES:
        message = f"unknown step type {step_type!r}; expected one of {', '.join(STEP_TYPES)}"
        if step_type is None:
            message = "required: the step type"
        return [Problem(step_id, "type", message)], None
    try:
        return [], _STEP_ADAPTER.validate_python(raw)
    except ValidationError as error:
        return problems_from_validation_error(error, step=step_id, skip=1), None


def _structure_problems(graph: Any) -> tuple[list[Problem], list[Step]]:
    """Check the graph's frame and each step on its own."""
    if not isinstance(graph, Mapping):
        return [Problem("", "", "menu_structure must be an object with start and steps")], []
    problems: list[Problem] = []
    raw_steps = graph.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(Problem("", "steps", "required: a non-empty list of steps"))
        raw_steps = []
    seen: dict[str, int] = {}
    steps: list[Step] = []
    for number, raw in enumerate(raw_steps):
        step_problems, step = _step_problems(raw, number, seen)
        problems += step_problems
        if step is not None:
            steps.append(step)
    start = graph.get("start")
    if not isinstance(start, str) or not start:
        problems.append(Problem("", "start", "missing start: name the first step"))
    elif raw_steps and start not in seen:
        problems.append(Problem("", "start", f"start step {start!r} does not exist"))
    return problems, steps


def check_template(template: Template) -> list[Problem]:
    """The graph, limit and variable checks of an already built template."""
    return [*graph_problems(template), *limit_problems(template), *variable_problems(template)]


def _partial_checks(template: Template, step_ids: set[str]) -> list[Problem]:
    """Checks that stay true when some steps did not parse (``step_ids`` names them all).

    Reachability and unset variables are left out: an unparsed step could lead somewhere
    or set a variable.
    """
    return [
        *dangling_next(template, known=step_ids),
        *loops_without_wait(template),
        *collect_problems(template),
        *end_action_problems(template),
        *timer_problems(template),
        *limit_problems(template),
    ]


def _build(
    graph: Any,
    *,
    name: str,
    version: int,
    state_schema: Mapping[str, Any] | None,
    end_action_type: str | None,
    end_action_target: Mapping[str, Any] | None,
    default_params: Mapping[str, Any] | None,
) -> tuple[Template | None, list[Problem]]:
    problems, steps = _structure_problems(graph)
    if not isinstance(graph, Mapping):
        return None, problems
    start = graph.get("start")
    try:
        template = Template.from_parts(
            name=name,
            version=version,
            menu_structure={
                **graph,
                "start": start if isinstance(start, str) else "",
                "steps": steps,
            },
            state_schema=state_schema,
            end_action_type=end_action_type,
            end_action_target=end_action_target,
            default_params=default_params,
        )
    except TemplateInvalid as invalid:
        return None, problems + invalid.problems
    if problems:
        raw_steps = graph.get("steps")
        raw_steps = raw_steps if isinstance(raw_steps, list) else []
        step_ids = {str(raw.get("id")) for raw in raw_steps if isinstance(raw, Mapping)}
        return None, problems + _partial_checks(template, step_ids)
    problems = check_template(template)
    return (None, problems) if problems else (template, [])


def validate_template(
    menu_structure: Mapping[str, Any] | Template,
    *,
    name: str = DEFAULT_NAME,
    state_schema: Mapping[str, Any] | None = None,
    end_action_type: str | None = None,
    end_action_target: Mapping[str, Any] | None = None,
    default_params: Mapping[str, Any] | None = None,
) -> list[Problem]:
    """List what is wrong with a native graph and its template settings (empty when valid)."""
    if isinstance(menu_structure, Template):
        return check_template(menu_structure)
    _, problems = _build(
        menu_structure,
        name=name,
        version=1,
        state_schema=state_schema,
        end_action_type=end_action_type,
        end_action_target=end_action_target,
        default_params=default_params,
    )
    return problems


def _version(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise TemplateInvalid([Problem("", "version", "must be a whole number of at least 1")])


def load_template(
    document: Mapping[str, Any] | str,
    *,
    name: str | None = None,
    version: int | None = None,
    state_schema: Mapping[str, Any] | None = None,
    end_action_type: str | None = None,
    end_action_target: Mapping[str, Any] | None = None,
    default_params: Mapping[str, Any] | None = None,
) -> Template:
    """Import, validate and build a template; raise :class:`TemplateInvalid` with every problem.

    ``document`` is a graph in any accepted format, or a template document with
    ``menu_structure`` (then its ``template_name``, ``state_schema``, ``end_action_type``,
    ``end_action_target``, ``default_params`` and ``version`` are used unless given here).
    """
    data = parse_document(document) if isinstance(document, str) else document
    if isinstance(data, Mapping) and "menu_structure" in data:
        definition: Mapping[str, Any] = data
        graph_document = data["menu_structure"]
    else:
        definition, graph_document = {}, data
    graph, _ = to_native(graph_document)
    template, problems = _build(
        graph,
        name=name
        or definition.get("template_name")
        or definition.get("name")
        or str(data.get("name") or DEFAULT_NAME),
        version=version or _version(definition.get("version")),
        state_schema=state_schema if state_schema is not None else definition.get("state_schema"),
        end_action_type=end_action_type or definition.get("end_action_type"),
        end_action_target=end_action_target or definition.get("end_action_target"),
        default_params=default_params
        if default_params is not None
        else definition.get("default_params"),
    )
    if template is None:
        raise TemplateInvalid(problems)
    return template
