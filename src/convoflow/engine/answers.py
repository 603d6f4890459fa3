"""Typed validation of customers' answers and of ``state_data`` sent through the admin API.

:func:`parse_answer` turns a typed reply into a value or a short, friendly error the
engine sends back before asking again. A field's own ``error`` text replaces the default
message. :func:`validate_state_data` checks a partial update of an instance's data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

from .fields import AnswerRules, AnswerSpec, FieldSpec
from .render import to_text


class ParsedAnswer(NamedTuple):
    """A parsed answer: ``value`` when ``error`` is None, else the message to show."""

    value: Any
    error: str | None


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")
_PHONE_NOISE = re.compile(r"[\s().\-]")
_PHONE_DIGITS = re.compile(r"[0-9]{7,15}")
_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_DAY_FIRST_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_CURRENCY_AND_SPACE = "$€£¥₹₦₱₩₺₽ \u00a0"
_LARGEST_NUMBER = 1e15

YES_WORDS = frozenset(
    {"yes", "y", "yeah", "yep", "yup", "true", "1", "ok", "okay", "sure", "si", "sí"}
)
NO_WORDS = frozenset({"no", "n", "nope", "nah", "false", "0"})

_DEFAULT_ERRORS = {
    "number": "Please send a number, for example 1500.",
    "integer": "Please send a whole number, for example 3.",
    "string": "Please send your answer as text.",
    "email": "Please send a valid email address, like name@example.com.",
    "phone": "Please send a valid phone number with its country code, like +44 7700 900123.",
    "date": "Please send a date like 2025-12-31 or 31/12/2025.",
    "boolean": "Please answer yes or no.",
    "pattern": "That doesn't look right. Please try again.",
}


def _compiled(spec: AnswerSpec | AnswerRules) -> AnswerSpec:
    return spec.answer if isinstance(spec, AnswerRules) else spec


def _fail(spec: AnswerSpec, default: str) -> ParsedAnswer:
    return ParsedAnswer(None, spec.error or default)


def parse_number(text: str) -> float | None:
    """Read "1500", "1,500", "1500.50", "12,5" or "$ 1 500" as a float; None if not a number."""
    cleaned = text.strip().strip(_CURRENCY_AND_SPACE).replace(" ", "").replace("_", "")
    if _THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    elif cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    if not _NUMBER.fullmatch(cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) and abs(value) < _LARGEST_NUMBER else None


def _bounds_error(spec: AnswerSpec, size: float, *, length: bool) -> str | None:
    """Describe how ``size`` (a value, or a length) misses the spec's min/max, or None."""
    low, high = spec.min, spec.max
    if (low is None or size >= low) and (high is None or size <= high):
        return None
    if spec.error:
        return spec.error
    if length:
        if low is not None and high is not None:
            return f"Please use between {to_text(low)} and {to_text(high)} characters."
        if low is not None:
            return f"Please use at least {to_text(low)} characters."
        return f"Please use at most {to_text(high)} characters."
    unit = "a whole number" if spec.kind == "integer" else "a number"
    if low is not None and high is not None:
        return f"Please send {unit} between {to_text(low)} and {to_text(high)}."
    if low is not None:
        return f"Please send {unit} of at least {to_text(low)}."
    return f"Please send {unit} of at most {to_text(high)}."


def _check_number(spec: AnswerSpec, value: float) -> ParsedAnswer:
    if spec.kind == "integer" and not value.is_integer():
        return _fail(spec, _DEFAULT_ERRORS["integer"])
    error = _bounds_error(spec, value, length=False)
    if error:
        return ParsedAnswer(None, error)
    if spec.kind == "integer" or value.is_integer():
        return ParsedAnswer(int(value), None)
    return ParsedAnswer(value, None)


def _check_length(spec: AnswerSpec, text: str) -> ParsedAnswer:
    error = _bounds_error(spec, len(text), length=True)
    return ParsedAnswer(None, error) if error else ParsedAnswer(text, None)


def _parse_date(text: str) -> str | None:
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DAY_FIRST_DATE.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _parse_text_kind(spec: AnswerSpec, text: str) -> ParsedAnswer:
    """Parse the kinds whose answer is free text: string, email, phone, pattern, date."""
    kind = spec.kind
    if kind == "email":
        if len(text) > 254 or not _EMAIL.fullmatch(text):
            return _fail(spec, _DEFAULT_ERRORS["email"])
        local, _, domain = text.rpartition("@")
        return _check_length(spec, f"{local}@{domain.lower()}")
    if kind == "phone":
        digits = _PHONE_NOISE.sub("", text)
        digits = digits[1:] if digits.startswith("+") else digits
        digits = digits[2:] if digits.startswith("00") else digits
        if not _PHONE_DIGITS.fullmatch(digits):
            return _fail(spec, _DEFAULT_ERRORS["phone"])
        return _check_length(spec, digits)
    if kind == "date":
        iso = _parse_date(text)
        return ParsedAnswer(iso, None) if iso else _fail(spec, _DEFAULT_ERRORS["date"])
    if spec.pattern is not None and not spec.pattern.fullmatch(text):
        return _fail(spec, _DEFAULT_ERRORS["pattern"])
    return _check_length(spec, text)


def parse_answer(spec: AnswerSpec | AnswerRules, text: str) -> ParsedAnswer:
    """Validate one typed answer against a field (an ``ask`` step or a schema field).

    Returns the normalised value (int/float for numbers, ISO ``YYYY-MM-DD`` for dates,
    digits for phones, bool, or the chosen option's id) or an error message.
    """
    compiled = _compiled(spec)
    kind = compiled.kind
    stripped = text.strip()
    if not stripped:
        return _fail(compiled, _DEFAULT_ERRORS.get(kind, _DEFAULT_ERRORS["string"]))
    if kind in {"number", "integer"}:
        number = parse_number(stripped)
        if number is None:
            return _fail(compiled, _DEFAULT_ERRORS[kind])
        return _check_number(compiled, number)
    if kind == "boolean":
        word = stripped.casefold().rstrip(".!")
        if word in YES_WORDS:
            return ParsedAnswer(True, None)
        if word in NO_WORDS:
            return ParsedAnswer(False, None)
        return _fail(compiled, _DEFAULT_ERRORS["boolean"])
    if kind == "choice" and compiled.menu is not None:
        option = compiled.menu.match(stripped)
        if option is not None:
            return ParsedAnswer(option.id, None)
        labels = ", ".join(item.label for item in compiled.menu.options)
        return _fail(compiled, f"Please choose one of: {labels}.")
    return _parse_text_kind(compiled, stripped)


def coerce_value(spec: AnswerSpec | AnswerRules, value: Any) -> ParsedAnswer:
    """Validate a JSON value (from the admin API) against a field, like :func:`parse_answer`."""
    compiled = _compiled(spec)
    if isinstance(value, bool):
        if compiled.kind == "boolean":
            return ParsedAnswer(value, None)
        return _fail(compiled, f"expected a {compiled.kind} value, not a boolean")
    if isinstance(value, int | float):
        if compiled.kind in {"number", "integer"}:
            if not math.isfinite(value):
                return _fail(compiled, _DEFAULT_ERRORS[compiled.kind])
            return _check_number(compiled, float(value))
        return parse_answer(compiled, str(value))
    if isinstance(value, str):
        return parse_answer(compiled, value)
    return _fail(compiled, f"expected a {compiled.kind} value")


def coerce_state_data(
    schema: Mapping[str, FieldSpec], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a partial update of ``state_data``: (normalised values, errors by field).

    Only the given fields are checked; a field not in the schema is refused; ``None``
    clears an optional field and is refused for a required one.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in data.items():
        spec = schema.get(name)
        if spec is None:
            errors[name] = "unknown field"
        elif value is None:
            if spec.required:
                errors[name] = "this field is required"
            else:
                values[name] = None
        else:
            parsed = coerce_value(spec, value)
            if parsed.error is None:
                values[name] = parsed.value
            else:
                errors[name] = parsed.error
    return values, errors


def validate_state_data(schema: Mapping[str, FieldSpec], data: Mapping[str, Any]) -> dict[str, str]:
    """Errors of a partial ``state_data`` update, by field (empty when all is well)."""
    return coerce_state_data(schema, data)[1]
