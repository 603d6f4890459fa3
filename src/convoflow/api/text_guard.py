"""Refusing text the database cannot store, naming the field it was found in.

PostgreSQL refuses NUL characters in text and JSON, and UTF-8 cannot encode a lone
surrogate (JSON's ``"\\ud800"``). Either would fail deep inside a save, so every admin
request is checked up front: path and query parameters by name, a JSON body by the path
of the first string (or object key) holding one, e.g. ``menu_structure.steps[0].text``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from convoflow.engine.problems import field_path

NUL = "\x00"
NUL_MESSAGE = "NUL characters (\\u0000) are not allowed"
SURROGATE_MESSAGE = "lone surrogates (\\ud800-\\udfff) are not valid text"

Location = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if NUL in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def shown(text: str) -> str:
    """``text`` with NUL characters and surrogates escaped, fit to name a field."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace(NUL, "\\u0000")


def first_bad_parameter(parameters: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    """(parameter name, reason) of the first name or value that cannot be stored."""
    for name, value in parameters:
        reason = text_problem(name) or text_problem(value)
        if reason is not None:
            return shown(name), reason
    return None


def first_bad_json_text(raw_body: bytes) -> tuple[str, str] | None:
    """(field path, reason) of the first string or key in a JSON body that cannot be stored.

    A body that is not JSON is left to the request validation, which refuses it.
    """
    if not raw_body:
        return None
    try:
        document = json.loads(raw_body)
    except (ValueError, RecursionError):
        return None
    for location, text in _strings(document):
        reason = text_problem(text)
        if reason is not None:
            return field_path(location), reason
    return None


def _strings(document: Any) -> Iterator[tuple[Location, str]]:
    """Every string value and object key with its location (depth-first, no recursion)."""
    pending: list[tuple[Location, Any]] = [((), document)]
    while pending:
        location, value = pending.pop()
        if isinstance(value, str):
            yield location, value
        elif isinstance(value, Mapping):
            children = list(value.items())
            for key, _ in children:
                yield (*location, shown(key)), key
            pending.extend(((*location, shown(key)), child) for key, child in reversed(children))
        elif isinstance(value, list):
            pending.extend(
                ((*location, number), child) for number, child in reversed(list(enumerate(value)))
            )
