"""Masking personal data in what is sent to the model provider (``redact_pii``).

Fields marked ``pii: true`` in a step's fields (an AI template's ``state_schema``) are
masked: their known values everywhere, and, for ``email`` and ``phone`` fields, anything
that looks like an email address or a phone number. Each distinct value becomes a
placeholder (``[PII_1]``) the model can still refer to: placeholders in ``set_fields``
arguments and in the model's text are put back before anything is stored or sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from convoflow.engine.fields import FieldSpec

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_PLACEHOLDER = re.compile(r"\[PII_(\d+)\]")


class Redactor:
    """Masks and unmasks one turn's personal data (a no-op when redaction is off)."""

    def __init__(
        self, fields: Mapping[str, FieldSpec], values: Mapping[str, Any], *, enabled: bool
    ) -> None:
        pii = {name: spec for name, spec in fields.items() if spec.pii}
        self.enabled = enabled and bool(pii)
        self._patterns = [
            pattern
            for kind, pattern in (("email", _EMAIL), ("phone", _PHONE))
            if any(spec.type == kind for spec in pii.values())
        ]
        self._known = [str(values[name]) for name in pii if values.get(name) not in (None, "")]
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}

    def _placeholder(self, value: str) -> str:
        if value not in self._by_value:
            placeholder = f"[PII_{len(self._by_value) + 1}]"
            self._by_value[value] = placeholder
            self._by_placeholder[placeholder] = value
        return self._by_value[value]

    def mask(self, text: str) -> str:
        """``text`` with personal data replaced by placeholders."""
        if not self.enabled or not text:
            return text
        for value in sorted(self._known, key=len, reverse=True):
            if value.strip():
                text = text.replace(value, self._placeholder(value))
        for pattern in self._patterns:
            text = pattern.sub(lambda match: self._placeholder(match.group(0)), text)
        return text

    def unmask(self, value: Any) -> Any:
        """A value (or a text) with placeholders put back; anything else unchanged."""
        if not isinstance(value, str) or not self.enabled:
            return value
        return _PLACEHOLDER.sub(
            lambda match: self._by_placeholder.get(match.group(0), match.group(0)), value
        )
