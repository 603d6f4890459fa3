"""Canvas positions for steps that have none, so an imported flow opens with a layout.

Steps are laid out in columns by their distance from the start (breadth first along the
step-id fields ``next``, options, branches, ``default``, ``on_timeout``, ``on_failure``),
one row per step within a column; steps no path reaches go in a last column. Positions
already given are kept as they are, and the new ones go below the lowest of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

COLUMN_WIDTH = 280
ROW_HEIGHT = 160
_EDGE_KEYS = frozenset({"next", "default", "on_timeout", "on_failure"})


def _targets(value: Any) -> Iterator[str]:
    """Every step id a raw step points at (``next`` fields, also inside options)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _EDGE_KEYS and isinstance(item, str):
                yield item
            elif isinstance(item, list | Mapping):
                yield from _targets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _targets(item)


def _columns(steps: list[dict[str, Any]], start: Any) -> dict[str, int]:
    ids = [str(step["id"]) for step in steps]
    edges = {str(step["id"]): [t for t in _targets(step) if t in ids] for step in steps}
    column: dict[str, int] = {}
    frontier = [str(start)] if str(start) in edges else ids[:1]
    depth = 0
    while frontier:
        following = []
        for step_id in frontier:
            if step_id in column:
                continue
            column[step_id] = depth
            following.extend(edges[step_id])
        frontier, depth = following, depth + 1
    last = max(column.values(), default=-1) + 1
    return {step_id: column.get(step_id, last) for step_id in ids}


def _y_of(position: Any) -> int:
    y = position.get("y") if isinstance(position, Mapping) else None
    return int(y) if isinstance(y, int | float) and not isinstance(y, bool) else 0


def with_positions(steps: list[Any], start: Any) -> list[Any]:
    """The steps, each without a ``position`` given one (``{"x", "y"}``); others unchanged."""
    laid = [step for step in steps if isinstance(step, dict) and isinstance(step.get("id"), str)]
    if all(step.get("position") is not None for step in laid):
        return steps
    columns = _columns(laid, start)
    given = [_y_of(step["position"]) for step in laid if step.get("position") is not None]
    top = max(given) + ROW_HEIGHT if given else 0
    rows: dict[int, int] = {}
    placed: dict[str, dict[str, int]] = {}
    for step in laid:
        if step.get("position") is not None:
            continue
        number = columns[step["id"]]
        row = rows.get(number, 0)
        rows[number] = row + 1
        placed[step["id"]] = {"x": number * COLUMN_WIDTH, "y": top + row * ROW_HEIGHT}
    return [
        {**step, "position": placed[step["id"]]}
        if isinstance(step, dict) and step.get("position") is None and step.get("id") in placed
        else step
        for step in steps
    ]
