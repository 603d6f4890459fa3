"""Typed answer fields: the rules shared by ``ask`` steps and the template's ``state_schema``.

``state_schema`` maps a field name to a :class:`FieldSpec`::

    amount:  {type: number, required: true, prompt: "How much?", min: 100, max: 50000}
    purpose: {type: string, required: true, prompt: "What is it for?"}
    colour:  {type: choice, options: [red, {id: bl, label: Blue}]}

``min``/``max`` bound the value of ``number``/``integer`` answers and the length of
``string``/``email``/``phone``/``pattern`` answers. Each spec is compiled once into an
:class:`AnswerSpec` (regex compiled, choice table built) that :mod:`.answers` parses with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from . import limits
from .menus import Menu, MenuOption

InputType = Literal[
    "number", "integer", "string", "email", "phone", "date", "boolean", "choice", "pattern"
]
INPUT_TYPES: tuple[str, ...] = get_args(InputType)

VALUE_BOUNDED = frozenset({"number", "integer"})
LENGTH_BOUNDED = frozenset({"string", "email", "phone", "pattern"})

VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""What a variable set by a template may be called (ask fields, save_as, set keys)."""


class ChoiceOption(BaseModel):
    """One allowed answer of a ``choice`` field; a plain string is both id and label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=limits.OPTION_ID)
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"id": str(data), "label": str(data)}
        if isinstance(data, dict) and "label" not in data and "id" in data:
            return {**data, "label": data["id"]}
        return data


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """A compiled field: what :func:`convoflow.engine.answers.parse_answer` checks against."""

    kind: str
    menu: Menu | None = None
    pattern: re.Pattern[str] | None = None
    min: float | None = None
    max: float | None = None
    error: str | None = None


def _rules_problem(
    kind: str, options: tuple[ChoiceOption, ...], pattern: str | None, low: Any, high: Any
) -> str | None:
    """Say what is inconsistent in a field's rules, or None."""
    if kind == "choice" and not options:
        return "a choice field needs options"
    if kind != "choice" and options:
        return "options are only allowed for choice fields"
    if kind == "pattern" and not pattern:
        return "a pattern field needs a pattern"
    if pattern is not None:
        if kind not in {"pattern", "string"}:
            return "a pattern is only allowed for pattern and string fields"
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"invalid regular expression {pattern!r}: {exc}"
    if (low is not None or high is not None) and kind not in VALUE_BOUNDED | LENGTH_BOUNDED:
        return f"min/max are not supported for {kind} fields"
    if low is not None and high is not None and low > high:
        return f"min ({low}) is greater than max ({high})"
    return None


class AnswerRules(BaseModel):
    """Validation rules common to ``ask`` steps and ``state_schema`` fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    options: tuple[ChoiceOption, ...] = ()
    pattern: str | None = None
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    error: str | None = Field(default=None, min_length=1)

    def _input_kind(self) -> str:
        """The answer type; subclasses name the field that holds it."""
        return "string"

    @field_validator("min", "max")
    @classmethod
    def _whole_numbers_stay_whole(cls, bound: float | None) -> float | None:
        return int(bound) if bound is not None and bound.is_integer() else bound

    @model_validator(mode="after")
    def _check_rules(self) -> AnswerRules:
        problem = _rules_problem(self._input_kind(), self.options, self.pattern, self.min, self.max)
        if problem:
            raise ValueError(problem)
        _ = self.answer  # compile now, once the rules are known to be sound
        return self

    @cached_property
    def answer(self) -> AnswerSpec:
        """The compiled rules (regex compiled, choice table built), computed once."""
        kind = self._input_kind()
        menu = None
        if kind == "choice":
            menu = Menu.of(MenuOption(option.id, option.label) for option in self.options)
        if kind == "boolean":
            menu = Menu.of((MenuOption("yes", "Yes"), MenuOption("no", "No")))
        return AnswerSpec(
            kind=kind,
            menu=menu,
            pattern=re.compile(self.pattern) if self.pattern else None,
            min=self.min,
            max=self.max,
            error=self.error,
        )


class FieldSpec(AnswerRules):
    """One field of a template's ``state_schema`` (``required`` defaults to true)."""

    type: InputType = "string"
    required: bool = True
    prompt: str | None = Field(default=None, min_length=1)
    label: str | None = None
    description: str | None = None
    pii: bool = False
    """Personal data: masked in what is sent to a model provider when ``redact_pii`` is on."""

    def _input_kind(self) -> str:
        return self.type

    def prompt_for(self, name: str) -> str:
        """The question that asks for this field."""
        if self.prompt:
            return self.prompt
        return f"Please enter your {self.label or name.replace('_', ' ')}."
