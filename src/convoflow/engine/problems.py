"""What is wrong with a template, said so that an admin can fix it.

A :class:`Problem` names the step and the field; :class:`TemplateInvalid` carries the list
(the API answers 422 with it). Pydantic errors are translated here, never leaked raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a template: where (step id, field path) and what."""

    step: str
    field: str
    message: str

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"step '{self.step}'" if self.step else "",
                f"field '{self.field}'" if self.field else "",
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, str]:
        """The problem as the API shows it."""
        return {"step": self.step, "field": self.field, "message": self.message}


class TemplateInvalid(ValueError):
    """A template was refused; ``problems`` says why, step by step."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems) or "invalid")


def field_path(location: Iterable[str | int]) -> str:
    """Join a pydantic location as ``sections[0].rows[3].title``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def error_message(detail: ErrorDetails) -> str:
    """Say a pydantic error in the words of a template author."""
    if detail["type"] == "missing":
        return "required"
    if detail["type"] == "extra_forbidden":
        return "unknown field"
    if detail["type"] == "union_tag_invalid":
        context = detail.get("ctx") or {}
        tag, expected = context.get("tag"), context.get("expected_tags")
        return f"unknown step type {tag!r}; expected one of {expected}"
    if detail["type"] == "union_tag_not_found":
        return "missing step type"
    return detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")


def problems_from_validation_error(
    error: ValidationError, *, step: str = "", prefix: str = "", skip: int = 0
) -> list[Problem]:
    """Turn a pydantic error into problems for ``step``.

    ``skip`` drops leading location parts (the union tag of a step); ``prefix`` is put in
    front of each field path (``state_schema.amount``).
    """
    problems = []
    for detail in error.errors():
        path = field_path(detail["loc"][skip:])
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else prefix + path
        problems.append(Problem(step, path, error_message(detail)))
    return problems
