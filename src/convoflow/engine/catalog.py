"""What a builder needs to know about every step type, read from the step models themselves.

:func:`step_types` walks the :data:`~.steps.Step` union, so a step type added to it appears
here without further work: its JSON Schema (``model_json_schema()``), its exits (every field
typed as a step id, also inside lists of options or branches) and the WhatsApp limits of
:mod:`.limits` that apply to its fields.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from . import limits
from .step_base import StepId
from .steps import TIMED_TYPES, Step

#: The fields naming where a step goes, by what they mean (any other is an "option" exit).
EXIT_KINDS = {
    "next": "next",
    "on_timeout": "timeout",
    "on_failure": "failure",
    "default": "default",
}

_INTERACTIVE_FRAME = {
    "text": limits.INTERACTIVE_BODY,
    "header": limits.HEADER_TEXT,
    "footer": limits.FOOTER_TEXT,
}
#: The WhatsApp limits that bound each step type's fields (see :mod:`.limits`).
STEP_LIMITS: dict[str, dict[str, int]] = {
    "message": {"text": limits.TEXT_BODY},
    "buttons": {
        **_INTERACTIVE_FRAME,
        "reply_buttons": limits.REPLY_BUTTONS,
        "options_as_list": limits.LIST_ROWS,
        "button_label": limits.BUTTON_TITLE,
        "option_id": limits.OPTION_ID,
        "list_button": limits.LIST_BUTTON,
    },
    "list": {
        **_INTERACTIVE_FRAME,
        "list_button": limits.LIST_BUTTON,
        "sections": limits.LIST_SECTIONS,
        "rows": limits.LIST_ROWS,
        "section_title": limits.SECTION_TITLE,
        "row_id": limits.ROW_ID,
        "row_title": limits.ROW_TITLE,
        "row_description": limits.ROW_DESCRIPTION,
    },
    "image": {"caption": limits.CAPTION},
    "video": {"caption": limits.CAPTION},
    "document": {"caption": limits.CAPTION, "filename": limits.DOCUMENT_FILENAME},
    "audio": {"caption": limits.TEXT_BODY},
    "template": {"name": limits.TEMPLATE_NAME},
    "ask": {
        "prompt": limits.TEXT_BODY,
        "prompt_with_options": limits.INTERACTIVE_BODY,
        "error": limits.TEXT_BODY,
        "options_as_buttons": limits.REPLY_BUTTONS,
        "options_as_list": limits.LIST_ROWS,
        "option_id": limits.OPTION_ID,
    },
    "collect": {"intro": limits.TEXT_BODY},
    "handoff": {"text": limits.TEXT_BODY},
    "end": {"text": limits.TEXT_BODY},
}


@dataclass(frozen=True, slots=True)
class StepExit:
    """One kind of way out of a step.

    ``field`` is the path of the step-id field, with ``[]`` for each list it is repeated
    in (``buttons[].next``: one exit per button). ``repeated`` is the list part
    (``buttons``), or None for a single exit; ``kind`` is ``next``, ``timeout``,
    ``failure``, ``default`` or ``option`` (a button, row or branch).
    """

    field: str
    kind: str
    repeated: str | None = None


@dataclass(frozen=True, slots=True)
class StepTypeSpec:
    """A step type as a builder shows it."""

    type: str
    title: str
    description: str
    schema: dict[str, Any]
    exits: list[StepExit] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=dict)
    waits: bool = False
    timed: bool = False


def step_models() -> list[type[BaseModel]]:
    """Every model of the :data:`~.steps.Step` union, in its order."""
    union = get_args(Step)[0]
    return [model for model in get_args(union) if isinstance(model, type)]


def _type_names(model: type[BaseModel]) -> list[str]:
    annotation = model.model_fields["type"].annotation
    return [str(value) for value in get_args(annotation)]


def _unwrapped(annotation: Any) -> list[Any]:
    """The types an annotation may hold: ``X | None`` and ``Annotated`` taken apart."""
    if get_origin(annotation) is Annotated:
        return _unwrapped(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [part for arg in get_args(annotation) for part in _unwrapped(arg)]
    return [annotation]


def _names_a_step(annotation: Any) -> bool:
    """Whether a field holds a step id (``StepId`` or ``StepId | None``)."""
    if annotation is StepId:
        return True
    parts = [arg for arg in get_args(annotation) if arg is not type(None)]
    return get_origin(annotation) in (Union, types.UnionType) and parts == [StepId]


def _exits(model: type[BaseModel], prefix: str = "", repeated: str | None = None) -> list[StepExit]:
    found = []
    for name, info in model.model_fields.items():
        if name == "id" and not prefix:
            continue
        path = f"{prefix}{name}"
        if _names_a_step(info.annotation):
            kind = EXIT_KINDS.get(name, "option") if repeated is None else "option"
            found.append(StepExit(path, kind, repeated))
            continue
        for part in _unwrapped(info.annotation):
            if get_origin(part) is list:
                (item,) = get_args(part) or (None,)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    found += _exits(item, f"{path}[].", path)
    return found


def _ordered(exits: list[StepExit]) -> list[StepExit]:
    """Options first (as the step shows them), then next, default, timeout and failure."""
    rank = {"option": 0, "next": 1, "default": 2, "timeout": 3, "failure": 4}
    return sorted(exits, key=lambda exit_: rank.get(exit_.kind, 5))


def _description(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "").split("\n\n", 1)[0].replace("\n", " ")


def _schema(model: type[BaseModel], type_name: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    properties = schema.get("properties", {})
    if "type" in properties:
        properties["type"] = {"const": type_name, "title": "Type", "type": "string"}
    schema["title"] = type_name
    return schema


def step_types() -> list[StepTypeSpec]:
    """Every step type the engine runs, with its schema, exits and limits."""
    specs = []
    for model in step_models():
        exits = _ordered(_exits(model))
        waits = bool(getattr(model, "waits", False))
        for type_name in _type_names(model):
            specs.append(
                StepTypeSpec(
                    type=type_name,
                    title=type_name.replace("_", " ").capitalize(),
                    description=_description(model),
                    schema=_schema(model, type_name),
                    exits=list(exits),
                    limits=dict(STEP_LIMITS.get(type_name, {})),
                    waits=waits,
                    timed=type_name in TIMED_TYPES,
                )
            )
    return specs
