"""``{{variable}}`` rendering.

A placeholder names a variable, optionally a dotted path into it (``{{loan.status}}``,
``{{items.0}}``); ``{{contact.name}}`` and ``{{contact.phone}}`` read the contact. A missing
value renders as the empty string. Texts are compiled once (cached by source string), so
rendering on the hot path is a few dictionary look-ups and one join.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}")
"""A ``{{name}}`` or ``{{dotted.path}}`` placeholder; ``{{1}}`` (WhatsApp positional) is not one."""

CONTACT = "contact"
"""The reserved root under which the contact's fields are rendered."""

_EMPTY: Mapping[str, str] = {}


def lookup(path: tuple[str, ...], variables: Mapping[str, Any], contact: Mapping[str, str]) -> Any:
    """Return the value at a dotted ``path`` (``("loan", "status")``), or None if missing."""
    root = path[0]
    if root == CONTACT:
        return contact.get(path[1]) if len(path) == 2 else None
    value: Any = variables.get(root)
    for part in path[1:]:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def to_text(value: Any) -> str:
    """Show a variable's value to a customer: None → "", 1500.0 → "1500", True → "yes"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(to_text(item) for item in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class CompiledText:
    """A text split into literal parts and placeholder paths, ready to render.

    ``literals`` has one more item than ``paths``: the text is
    ``literals[0] + value(paths[0]) + literals[1] + ...``.
    """

    literals: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]

    def render(self, variables: Mapping[str, Any], contact: Mapping[str, str] = _EMPTY) -> str:
        """Substitute the placeholders; missing values become empty strings."""
        literals = self.literals
        parts = [literals[0]]
        for index, path in enumerate(self.paths):
            parts.append(to_text(lookup(path, variables, contact)))
            parts.append(literals[index + 1])
        return "".join(parts)


@lru_cache(maxsize=16384)
def compile_text(source: str) -> CompiledText:
    """Compile ``source`` once; later calls with the same string hit the cache."""
    literals: list[str] = []
    paths: list[tuple[str, ...]] = []
    position = 0
    for match in PLACEHOLDER.finditer(source):
        literals.append(source[position : match.start()])
        paths.append(tuple(match.group(1).split(".")))
        position = match.end()
    literals.append(source[position:])
    return CompiledText(tuple(literals), tuple(paths))


def render(
    source: str, variables: Mapping[str, Any], contact: Mapping[str, str] | None = None
) -> str:
    """Render ``source`` with ``variables`` and the ``contact`` fields."""
    if "{{" not in source:
        return source
    return compile_text(source).render(variables, contact or _EMPTY)


def render_value(
    value: Any, variables: Mapping[str, Any], contact: Mapping[str, str] | None = None
) -> Any:
    """Render every string inside a JSON-like value (dicts, lists), keeping other types.

    A string that is exactly one placeholder (``"{{amount}}"``) yields the variable's raw
    value, so numbers and objects keep their type in ``set`` steps and HTTP bodies.
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value
        compiled = compile_text(value)
        if len(compiled.paths) == 1 and compiled.literals == ("", ""):
            return lookup(compiled.paths[0], variables, contact or _EMPTY)
        return compiled.render(variables, contact or _EMPTY)
    if isinstance(value, Mapping):
        return {key: render_value(item, variables, contact) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, variables, contact) for item in value]
    return value


def placeholders(value: Any) -> list[str]:
    """List the dotted names of every placeholder inside a string or JSON-like value."""
    if isinstance(value, str):
        return [".".join(path) for path in compile_text(value).paths] if "{{" in value else []
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in placeholders(item)]
    if isinstance(value, list):
        return [name for item in value for name in placeholders(item)]
    return []
