"""The tools offered to the model, their JSON schemas and their pydantic-checked arguments.

Fixed, so integrators and tests can rely on them:

==================  =========================================================================
tool                offered
==================  =========================================================================
``set_fields``      ``ai_reply``/``ai_extract`` with fields (an AI template): the fields, typed
``finish``          ``ai_reply``/``ai_extract``: the task is done
``handoff``         always: ``{"reason": str}`` hands the conversation to a person
``reply``           always: ``{"text": str, "choices": [str, ...]}`` (at most 10 choices)
``classify``        ``ai_classify`` only: ``{"category": <a category id or "other">}``
``search_knowledge``  when the step names knowledge bases: ``{"query": str}``
admin tools         when the step names them (``workflow_type`` tools or full), by name
==================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from convoflow.engine.fields import FieldSpec

SET_FIELDS, FINISH, HANDOFF, REPLY, CLASSIFY, SEARCH = (
    "set_fields",
    "finish",
    "handoff",
    "reply",
    "classify",
    "search_knowledge",
)
BUILTIN_TOOLS = frozenset({SET_FIELDS, FINISH, HANDOFF, REPLY, CLASSIFY, SEARCH})
MAX_CHOICES = 10
OTHER = "other"


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HandoffArguments(_Arguments):
    """``handoff``: why the conversation goes to a person."""

    reason: str = Field(min_length=1, max_length=500)


class ReplyArguments(_Arguments):
    """``reply``: a text, with suggested answers shown as buttons or a list."""

    text: str = Field(min_length=1)
    choices: list[str] = Field(default_factory=list, max_length=MAX_CHOICES)


class SearchArguments(_Arguments):
    """``search_knowledge``: what to look for."""

    query: str = Field(min_length=1, max_length=1000)


class FinishArguments(BaseModel):
    """``finish``: no arguments (anything sent is ignored)."""

    model_config = ConfigDict(extra="ignore")


def classify_arguments(categories: Sequence[str]) -> type[BaseModel]:
    """``classify``: one of the step's category ids, or ``other``."""
    allowed = tuple(dict.fromkeys([*categories, OTHER]))
    return create_model(
        "ClassifyArguments",
        __config__=ConfigDict(extra="forbid"),
        category=(Literal[allowed], ...),
    )


def check(model: type[BaseModel], arguments: Any) -> tuple[BaseModel | None, str]:
    """(parsed arguments, "") or (None, what is wrong) in words the model can act on."""
    try:
        return model.model_validate(arguments), ""
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in detail['loc']) or 'arguments'}: {detail['msg']}"
            for detail in error.errors()
        ]
        return None, "; ".join(problems)


_JSON_TYPES = {
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
}


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(spec.type, "string")}
    if spec.type == "choice" and spec.options:
        schema["enum"] = [option.id for option in spec.options]
    described = [spec.description or spec.label or "", _rules(spec)]
    text = " ".join(part for part in described if part)
    if text:
        schema["description"] = text
    return schema


def _rules(spec: FieldSpec) -> str:
    rules = []
    if spec.type in {"email", "phone", "date"}:
        rules.append(f"a {spec.type}" + (" (YYYY-MM-DD)" if spec.type == "date" else ""))
    if spec.min is not None:
        rules.append(f"min {spec.min}")
    if spec.max is not None:
        rules.append(f"max {spec.max}")
    if spec.pattern:
        rules.append(f"matching {spec.pattern}")
    return ", ".join(rules)


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def builtin_tools(
    *,
    mode: str,
    fields: Mapping[str, FieldSpec],
    categories: Sequence[Mapping[str, str]],
    knowledge: bool,
) -> list[dict[str, Any]]:
    """The built-in tools for a turn of a step of type ``mode`` (see the module docstring)."""
    tools: list[dict[str, Any]] = []
    if mode == "ai_classify":
        ids = [str(category["id"]) for category in categories]
        tools.append(
            _function(
                CLASSIFY,
                "Put the customer's request in one category (other: none fits).",
                _object({"category": {"type": "string", "enum": [*ids, OTHER]}}, ["category"]),
            )
        )
    else:
        if fields:
            properties = {name: _field_schema(spec) for name, spec in fields.items()}
            tools.append(
                _function(
                    SET_FIELDS,
                    "Store values the customer gave (any subset of the fields; a new value "
                    "overwrites). The result lists accepted fields and rejected ones with why.",
                    {"type": "object", "properties": properties, "additionalProperties": False},
                )
            )
        tools.append(
            _function(FINISH, "The task is done: every required field is set.", _object({}, []))
        )
    tools.append(
        _function(
            HANDOFF,
            "Hand the conversation to a person (the customer asks for one, or you cannot help).",
            _object({"reason": {"type": "string"}}, ["reason"]),
        )
    )
    tools.append(
        _function(
            REPLY,
            "Send the customer a text with up to 10 suggested answers shown as buttons.",
            _object(
                {
                    "text": {"type": "string"},
                    "choices": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                },
                ["text"],
            ),
        )
    )
    if knowledge:
        tools.append(
            _function(
                SEARCH,
                "Search the business's documents; returns passages with their source.",
                _object({"query": {"type": "string"}}, ["query"]),
            )
        )
    return tools


def admin_tool(name: str, description: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """An admin-declared tool as the model is offered it."""
    return _function(name, description or name, dict(parameters))
