"""Built-in templates shipped with the package (one YAML file per template).

Each file holds a whole template definition with the ``workflow_templates`` fields of
DESIGN §2 (``template_name``, ``menu_structure``, ``state_schema``, ``trigger_keywords``...).
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from typing import Any

import yaml


@cache
def _read_all() -> tuple[dict[str, Any], ...]:
    documents = [
        yaml.safe_load(entry.read_text(encoding="utf-8"))
        for entry in files(__name__).iterdir()
        if entry.name.endswith(".yaml")
    ]
    return tuple(sorted(documents, key=lambda document: str(document["template_name"])))


def load_builtin_templates() -> list[dict[str, Any]]:
    """Every built-in template definition, sorted by name (fresh copies, safe to modify)."""
    return copy.deepcopy(list(_read_all()))
