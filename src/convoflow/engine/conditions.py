"""Evaluating the branches of a ``condition`` step.

Comparisons are forgiving in the way chat data needs: numbers compare as numbers even when
stored as text ("1500" > 999), booleans match yes/no words, other text compares trimmed and
case-insensitively; ``gt``/``lt`` on two non-numeric texts compare them as strings (so ISO
dates work). A comparison that makes no sense is false, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .answers import NO_WORDS, YES_WORDS
from .render import lookup, render_value, to_text
from .steps import ConditionBranch


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = to_text(value).strip().casefold()
    return True if word in YES_WORDS else False if word in NO_WORDS else None


def _folded(value: Any) -> str:
    return to_text(value).strip().casefold()


def values_equal(actual: Any, expected: Any) -> bool:
    """Equality as a chat author means it (see the module docstring)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        left, right = _as_bool(actual), _as_bool(expected)
        return left is not None and left == right
    left_number, right_number = _as_number(actual), _as_number(expected)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return _folded(actual) == _folded(expected)


def _order(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1 comparing actual with expected, or None when they do not compare."""
    left_number, right_number = _as_number(actual), _as_number(expected)
    if left_number is not None and right_number is not None:
        return (left_number > right_number) - (left_number < right_number)
    if isinstance(actual, str) and isinstance(expected, str):
        return (actual > expected) - (actual < expected)
    return None


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def branch_holds(
    branch: ConditionBranch, variables: Mapping[str, Any], contact: Mapping[str, str]
) -> bool:
    """Whether ``branch``'s test is true for these variables."""
    actual = lookup(tuple(branch.var.split(".")), variables, contact)
    op = branch.op
    if op == "exists":
        wanted = branch.value if isinstance(branch.value, bool) else True
        return _present(actual) == wanted
    if op == "matches":
        return actual is not None and re.search(str(branch.value), to_text(actual)) is not None
    expected = render_value(branch.value, variables, contact)
    if op == "eq":
        return values_equal(actual, expected)
    if op == "ne":
        return not values_equal(actual, expected)
    if op == "contains":
        if isinstance(actual, list):
            return any(values_equal(item, expected) for item in actual)
        return actual is not None and _folded(expected) in _folded(actual)
    if op == "in":
        return isinstance(expected, list) and any(values_equal(actual, item) for item in expected)
    order = _order(actual, expected)
    if order is None:
        return False
    return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[op]


def choose_next(
    branches: list[ConditionBranch],
    default: str | None,
    variables: Mapping[str, Any],
    contact: Mapping[str, str],
) -> str | None:
    """The ``next`` of the first branch that holds, else ``default``."""
    for branch in branches:
        if branch_holds(branch, variables, contact):
            return branch.next
    return default
