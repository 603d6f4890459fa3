"""Defensive readers for webhook JSON: each returns None instead of raising on a wrong shape."""

from __future__ import annotations

import math
from typing import Any

MAX_ID_LENGTH = 256
"""Longest identifier accepted (wamid, phone number id, wa_id, BSUID).

Meta's are under 150 characters; a longer one is garbage, and would not fit a unique
index on PostgreSQL either.
"""

MAX_TOKEN_LENGTH = 64
"""Longest ``type`` or ``status`` word accepted."""

_MAX_TIMESTAMP_DIGITS = 12  # int() of a huge digit string raises ValueError on 3.11


def as_dict(value: Any) -> dict[str, Any] | None:
    """The value if it is a JSON object."""
    return value if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any] | None:
    """The value if it is a JSON array."""
    return value if isinstance(value, list) else None


def as_str(value: Any) -> str | None:
    """The value if it is a string."""
    return value if isinstance(value, str) else None


def as_id(value: Any) -> str | None:
    """The value if it is a non-empty string of at most :data:`MAX_ID_LENGTH` characters."""
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def as_token(value: Any) -> str | None:
    """The value if it is a short non-empty word such as a message type or a status."""
    if isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH:
        return value
    return None


def as_timestamp(value: Any) -> int | None:
    """Unix seconds from an int or a digit string (Meta sends strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**_MAX_TIMESTAMP_DIGITS else None
    if (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_TIMESTAMP_DIGITS
        and value.isascii()
        and value.isdigit()
    ):
        return int(value)
    return None


def as_int(value: Any) -> int | None:
    """An error code from an int or a short digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= 12 and value.isascii() and value.isdigit():
        return int(value)
    return None


def as_coordinate(value: Any) -> float | None:
    """A finite number from a JSON number or a short numeric string."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def kind_of(value: Any) -> str:
    """A short JSON type name for problem messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f"string of {len(value)} characters"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
