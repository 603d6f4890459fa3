"""The top-level fields a native template body may carry, and the ``name`` alias.

A native body is a template definition: the fields of the data model, with the step
graph in ``menu_structure`` or (``start``, ``steps`` and the graph settings) at the top
level. Anything else there is a mistake — a typo such as ``trigger_keyword`` would
otherwise create a template without triggers — so it is refused, naming the field.
Flow Runner and single-interactive-message bodies keep their own formats and are not
checked here.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from convoflow.engine import Problem
from convoflow.engine.template import GRAPH_SETTINGS
from convoflow.store.templates import DEFINITION_FIELDS

#: The fields of a template definition, as a client may send them.
TEMPLATE_KEYS = frozenset({"template_name", "name", "changelog", *DEFINITION_FIELDS})
#: What a native step graph holds when it is sent at the top level.
NATIVE_GRAPH_KEYS = frozenset({"start", "steps", *GRAPH_SETTINGS})
#: Fields of other formats that a native body spells differently.
_NATIVE_SPELLING = {
    "triggers": "trigger_keywords (triggers is the Flow Runner's name for them)",
    "status": "is_active (status is the Flow Runner's name for it)",
}


def unknown_field_problems(document: Mapping[str, Any], allowed: Collection[str]) -> list[Problem]:
    """One problem per top-level key of ``document`` that is not in ``allowed``."""
    return [
        Problem("", str(key), _unknown_field_message(str(key), allowed))
        for key in document
        if key not in allowed
    ]


def _unknown_field_message(key: str, allowed: Collection[str]) -> str:
    if key in _NATIVE_SPELLING:
        return f"unknown field; use {_NATIVE_SPELLING[key]}"
    if key in NATIVE_GRAPH_KEYS:
        return "unknown field here: the step graph goes in menu_structure"
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f"unknown field; did you mean {close[0]}?" if close else "unknown field"


def fold_name_alias(fields: dict[str, Any]) -> list[Problem]:
    """Turn ``name`` (the documented alias) into ``template_name``, in place.

    Sending both with different values is refused: which one was meant is unclear.
    """
    if "name" not in fields:
        return []
    alias = fields.pop("name")
    if "template_name" in fields and fields["template_name"] != alias:
        return [Problem("", "name", "differs from template_name; send only one of them")]
    fields["template_name"] = alias
    return []
