"""Size limits of a template's free-text fields, checked wherever a definition is saved.

The request schemas declare the same limits (so they show in the OpenAPI description and
are refused before any work); this check covers every other way in — a fork, a template
made from a spec whose tags add up, a version written on top of an older one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from convoflow.engine import Problem

DESCRIPTION_MAX_CHARS = 10_000
GUIDELINES_MAX_CHARS = 50_000
CHANGELOG_MAX_CHARS = 10_000
TAG_MAX_CHARS = 100
MAX_TAGS = 50

#: Text field → the most characters it may hold.
TEXT_LIMITS: Mapping[str, int] = {
    "description": DESCRIPTION_MAX_CHARS,
    "guidelines": GUIDELINES_MAX_CHARS,
    "changelog": CHANGELOG_MAX_CHARS,
}


def size_problems(definition: Mapping[str, Any], *, changelog: str | None = None) -> list[Problem]:
    """One problem per text field, tag or tag list over its limit (empty when all fit)."""
    values = {**definition, "changelog": changelog}
    problems = [
        Problem("", field, f"longer than {limit:,} characters")
        for field, limit in TEXT_LIMITS.items()
        if isinstance(values.get(field), str) and len(values[field]) > limit
    ]
    tags = definition.get("tags") or []
    if len(tags) > MAX_TAGS:
        problems.append(Problem("", "tags", f"more than {MAX_TAGS} tags"))
    problems += [
        Problem("", f"tags[{number}]", f"longer than {TAG_MAX_CHARS} characters")
        for number, tag in enumerate(tags)
        if isinstance(tag, str) and len(tag) > TAG_MAX_CHARS
    ]
    return problems
