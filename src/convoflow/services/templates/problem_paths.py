"""Where a template problem is, as a path in the document the client sent.

The engine names a problem by step and by field *within* the step (``step: ask_amount``,
``field: options[2].title``) or within the graph (``start``). A client needs the path
from the root of its request: ``menu_structure.steps.ask_amount.options[2].title`` (steps
are named by id, as in the builder), or ``steps.ask_amount...`` for a graph sent at the top
level. Problems about template fields (``state_schema.amount``, ``end_action_target``)
are already located from the root and are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from convoflow.engine import Problem
from convoflow.engine.template import GRAPH_SETTINGS

#: The first part of a graph-relative field: these live inside the step graph.
GRAPH_FIELDS = frozenset({"start", "steps", *GRAPH_SETTINGS})
#: How the engine names a step that has no usable id: by its place.
_STEP_BY_PLACE = re.compile(r"^steps\[\d+\]$")
_FIRST_PART = re.compile(r"^[^.\[]*")


def join_path(prefix: str, field: str) -> str:
    """``prefix`` and ``field`` joined as one path (``a`` + ``b[0]`` → ``a.b[0]``)."""
    if not prefix or not field:
        return prefix or field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def graph_field(problem: Problem, graph_path: str) -> str:
    """The full path of a problem the engine found in a graph stored at ``graph_path``."""
    if problem.step:
        step = problem.step if _STEP_BY_PLACE.match(problem.step) else f"steps.{problem.step}"
        return join_path(join_path(graph_path, step), problem.field)
    first = _FIRST_PART.match(problem.field)
    if not problem.field or (first is not None and first.group() in GRAPH_FIELDS):
        return join_path(graph_path, problem.field)
    return problem.field


def locate_graph_problems(problems: Iterable[Problem], graph_path: str) -> list[Problem]:
    """The engine's problems for a graph at ``graph_path``, each with its full field path."""
    return [
        Problem(problem.step, graph_field(problem, graph_path), problem.message)
        for problem in problems
    ]


def moved(problems: Iterable[Problem], old_prefix: str, new_prefix: str) -> list[Problem]:
    """The problems with fields under ``old_prefix`` renamed to be under ``new_prefix``.

    Used where a request names a part differently from the template document, e.g. the
    Flow Runner's ``automationJson`` for ``menu_structure.steps``.
    """
    relocated = []
    for problem in problems:
        field = problem.field
        if field == old_prefix or field.startswith((f"{old_prefix}.", f"{old_prefix}[")):
            field = new_prefix + field[len(old_prefix) :]
        relocated.append(Problem(problem.step, field, problem.message))
    return relocated
