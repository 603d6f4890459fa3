"""Checks on the shape of a template graph: where steps lead and what can run forever.

* every ``next`` (and ``on_failure``, branch, option) names an existing step;
* every step is reachable from ``start``;
* no cycle runs without waiting (message → condition → message ... would never stop);
* ``collect`` steps have fields to ask; an ``api_call`` end action has an endpoint;
* a step's ``timeout`` and ``on_timeout`` come together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .problems import Problem
from .step_base import TimedWait
from .steps import CollectStep, Step
from .template import Template

TERMINAL_TYPES = frozenset({"end", "connect"})
END_ACTION_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _targets(step: Step) -> list[str]:
    return [target for _, target in step.edges() if target is not None]


def dangling_next(template: Template, known: Collection[str] | None = None) -> list[Problem]:
    """Edges that point to no step (``known``: every step id, if not all steps are built)."""
    index = template.steps_by_id if known is None else known
    return [
        Problem(step.id, field, f"points to unknown step {target!r}")
        for step in template.steps
        for field, target in step.edges()
        if target is not None and target not in index
    ]


def unreachable_steps(template: Template) -> list[Problem]:
    """Steps no path from ``start`` leads to."""
    index = template.steps_by_id
    if template.start not in index:
        return []
    seen = {template.start}
    frontier = [template.start]
    while frontier:
        for target in _targets(index[frontier.pop()]):
            if target in index and target not in seen:
                seen.add(target)
                frontier.append(target)
    return [
        Problem(step.id, "", "unreachable: no path from the start step leads here")
        for step in template.steps
        if step.id not in seen
    ]


def _strongly_connected(nodes: list[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (templates may be long chains)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in nodes:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                order[node] = low[node] = len(order)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in order:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], order[target])
                continue
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def loops_without_wait(template: Template) -> list[Problem]:
    """Cycles made only of steps that never wait (they would run forever)."""
    index = template.steps_by_id
    running = [s.id for s in template.steps if not s.waits and s.type not in TERMINAL_TYPES]
    running_set = set(running)
    edges = {
        step_id: [t for t in _targets(index[step_id]) if t in running_set] for step_id in running
    }
    position = {step.id: number for number, step in enumerate(template.steps)}
    problems = []
    for component in _strongly_connected(running, edges):
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue
        members = sorted(component, key=position.__getitem__)
        cycle = " → ".join([*members, members[0]])
        message = f"loop that never waits for the customer: {cycle}"
        problems.append(Problem(members[0], "next", message))
    return problems


def collect_problems(template: Template) -> list[Problem]:
    """Collect steps must have state_schema fields to ask."""
    problems = []
    for step in template.steps:
        if not isinstance(step, CollectStep):
            continue
        if not template.state_schema:
            problems.append(Problem(step.id, "", "collect needs a state_schema to ask from"))
            continue
        for number, name in enumerate(step.fields or []):
            if name not in template.state_schema:
                message = f"unknown state_schema field {name!r}"
                problems.append(Problem(step.id, f"fields[{number}]", message))
        if step.fields is None and not template.collect_fields(step.id):
            message = "state_schema has no required field to collect"
            problems.append(Problem(step.id, "fields", message))
    return problems


def end_action_problems(template: Template) -> list[Problem]:
    """An ``api_call`` end action needs an http(s) endpoint and a known method."""
    if template.end_action_type != "api_call":
        return []
    target = template.end_action_target or {}
    endpoint = target.get("endpoint")
    problems = []
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://", "{{")):
        message = "api_call needs an http:// or https:// endpoint"
        problems.append(Problem("", "end_action_target.endpoint", message))
    method = str(target.get("method", "POST")).upper()
    if method not in END_ACTION_METHODS:
        problems.append(Problem("", "end_action_target.method", f"unknown method {method!r}"))
    headers = target.get("headers", {})
    if not isinstance(headers, Mapping):
        problems.append(Problem("", "end_action_target.headers", "must be an object"))
    return problems


def timer_problems(template: Template) -> list[Problem]:
    """A ``timeout`` needs an ``on_timeout`` to go to, and ``on_timeout`` needs a ``timeout``.

    There is no default route: whether no answer means a reminder, closing the case or a
    hand-off is the author's decision, so it must be written down.
    """
    problems = []
    for step in template.steps:
        if not isinstance(step, TimedWait):
            continue
        if step.timeout is not None and step.on_timeout is None:
            message = "required when timeout is set: the step to go to when no answer comes"
            problems.append(Problem(step.id, "on_timeout", message))
        if step.on_timeout is not None and step.timeout is None:
            message = "required when on_timeout is set: how long to wait (90, 30s, 30m, 2h, 1d)"
            problems.append(Problem(step.id, "timeout", message))
    return problems


def graph_problems(template: Template) -> list[Problem]:
    """All shape checks, in a stable order."""
    return [
        *dangling_next(template),
        *unreachable_steps(template),
        *loops_without_wait(template),
        *collect_problems(template),
        *end_action_problems(template),
        *timer_problems(template),
    ]
