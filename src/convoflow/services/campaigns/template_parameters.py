"""The ``{{…}}`` parameters of a WhatsApp message template's components.

Meta writes positional parameters as ``{{1}}``, ``{{2}}`` and named ones as
``{{first_name}}``. A send carries, per component (``header``, ``body``, each button), one
parameter per placeholder; a count that does not match fails with 132000. This module says
which components take parameters and how many, and builds the send's ``components`` from
values per component.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["component_keys", "count", "parameters_of", "send_components"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def _names(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for name in _PLACEHOLDER.findall(text):
        seen.setdefault(name, None)
    return list(seen)


def parameters_of(components: Sequence[Any]) -> dict[str, list[str]]:
    """``{"header": [...], "body": ["1", "2"], "button:0": ["1"]}``: the placeholders of each
    component that has any (a media header counts as one parameter, ``media``)."""
    found: dict[str, list[str]] = {}
    for component in components:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).lower()
        if kind == "header":
            header_format = str(component.get("format", "TEXT")).upper()
            names = _names(component.get("text")) if header_format == "TEXT" else ["media"]
            if names:
                found["header"] = names
        elif kind == "body":
            names = _names(component.get("text"))
            if names:
                found["body"] = names
        elif kind == "buttons":
            buttons = component.get("buttons")
            for index, button in enumerate(buttons if isinstance(buttons, list) else []):
                if isinstance(button, Mapping):
                    names = _names(button.get("url"))
                    if names:
                        found[f"button:{index}"] = names
    return found


def count(parameters: Mapping[str, Sequence[str]]) -> int:
    """How many parameters a send must carry in all."""
    return sum(len(names) for names in parameters.values())


def component_keys(parameters: Mapping[str, Sequence[str]]) -> list[str]:
    """The components that take parameters, in send order."""
    return list(parameters)


def send_components(
    parameters: Mapping[str, Sequence[str]], values: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """The ``template.components`` of a send: ``values`` gives the texts per component, in
    the order of its placeholders (named placeholders carry ``parameter_name``)."""
    components: list[dict[str, Any]] = []
    for key, texts in values.items():
        names = list(parameters.get(key, ()))
        items: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            name = names[index] if index < len(names) else str(index + 1)
            if key == "header" and name == "media":
                items.append({"type": "image", "image": {"link": text}})
                continue
            item: dict[str, Any] = {"type": "text", "text": text}
            if not name.isdigit():
                item["parameter_name"] = name
            items.append(item)
        if key.startswith("button:"):
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": key.split(":", 1)[1],
                    "parameters": items,
                }
            )
        else:
            components.append({"type": key, "parameters": items})
    return components
