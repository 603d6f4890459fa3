from typing import Any

import pytest

from convoflow.engine.conditions import branch_holds, choose_next, values_equal
from convoflow.engine.steps import ConditionBranch

VARIABLES: dict[str, Any] = {
    "amount": 1500,
    "amount_text": "1500",
    "name": "Ana",
    "agreed": True,
    "tags": ["vip", "new"],
    "date": "2025-03-01",
    "empty": "",
    "loan": {"status": "approved"},
}


def holds(var: str, op: str, value: Any = None) -> bool:
    return branch_holds(ConditionBranch(var=var, op=op, value=value), VARIABLES, {"name": "Ana"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("var", "op", "value", "expected"),
    [
        ("amount", "eq", 1500, True),
        ("amount_text", "eq", 1500, True),
        ("name", "eq", " ana ", True),
        ("name", "ne", "Bo", True),
        ("agreed", "eq", "yes", True),
        ("agreed", "eq", False, False),
        ("amount", "gt", 999, True),
        ("amount_text", "gte", "1500", True),
        ("amount", "lt", 1000, False),
        ("amount", "lte", "1500", True),
        ("date", "gt", "2025-01-31", True),
        ("name", "gt", 3, False),
        ("tags", "contains", "VIP", True),
        ("name", "contains", "an", True),
        ("missing", "contains", "a", False),
        ("name", "in", ["Bo", "Ana"], True),
        ("amount", "in", ["1500"], True),
        ("name", "exists", None, True),
        ("empty", "exists", None, False),
        ("missing", "exists", False, True),
        ("name", "matches", "^A", True),
        ("missing", "matches", ".*", False),
        ("loan.status", "eq", "approved", True),
        ("contact.name", "eq", "Ana", True),
        ("amount", "eq", "{{amount_text}}", True),
    ],
)
def test_branch_operators(var: str, op: str, value: Any, expected: bool) -> None:
    assert holds(var, op, value) is expected


def test_first_branch_that_holds_wins_else_default() -> None:
    branches = [
        ConditionBranch(var="amount", op="gt", value=10000, next="big"),
        ConditionBranch(var="amount", op="gt", value=1000, next="medium"),
        ConditionBranch(var="amount", op="gt", value=0, next="small"),
    ]
    assert choose_next(branches, "none", VARIABLES, {}) == "medium"
    assert choose_next(branches, "none", {"amount": -1}, {}) == "none"


def test_none_equals_only_missing_values() -> None:
    assert values_equal(None, None)
    assert not values_equal(None, "x")
