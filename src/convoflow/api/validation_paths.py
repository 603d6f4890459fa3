"""FastAPI's request validation errors as details naming real field paths.

Pydantic locates an error as ``("body", "trigger", "list[str]", 0)``: the request part,
then the field path — with, for a field whose type is a union, the name of the union
member that was tried (``list[str]``, ``str``, ``function-after[...]``). Those member
names are not fields a client can find in its request, so they are dropped by walking
the location through the body that was sent. A body that is not JSON at all is located
by pydantic at a character offset; it is reported for the body as a whole instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from convoflow.api.schemas.common import ErrorDetail
from convoflow.engine.problems import field_path

_NOT_SENT = object()


def validation_details(errors: Sequence[Any], body: Any = _NOT_SENT) -> list[ErrorDetail]:
    """One detail per pydantic request error; ``body`` is the parsed request body."""
    details = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        source, path = (location[0], location[1:]) if location else ("", ())
        if error.get("type") == "json_invalid":
            details.append(ErrorDetail(message=_json_message(error)))
            continue
        if source == "body":
            real = _real_path(path, body, missing=error.get("type") == "missing")
        else:  # a query, path or header parameter: its name is the field
            real = list(path[:1])
        details.append(ErrorDetail(field=field_path(real), message=_message(error)))
    return details


def _real_path(path: Sequence[str | int], body: Any, *, missing: bool) -> list[str | int]:
    """The parts of ``path`` that name fields or items of ``body`` (union members dropped).

    A name is kept when the object at that point has it, or when it is the last part of a
    ``missing`` error (the field that was not sent).
    """
    kept: list[str | int] = []
    value = body
    for number, part in enumerate(path):
        if isinstance(part, int):
            kept.append(part)
            is_item = isinstance(value, list) and 0 <= part < len(value)
            value = value[part] if is_item else _NOT_SENT
        elif isinstance(value, Mapping) and part in value:
            kept.append(part)
            value = value[part]
        elif missing and number == len(path) - 1:
            kept.append(part)
    return kept


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _json_message(error: Mapping[str, Any]) -> str:
    reason = (error.get("ctx") or {}).get("error")
    return f"the body is not valid JSON: {reason}" if reason else "the body is not valid JSON"
