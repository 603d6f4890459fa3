"""Fixtures for the engine tests."""

from __future__ import annotations

import pytest

from convoflow.builtin import load_builtin_templates
from convoflow.engine import Template, load_template


@pytest.fixture(scope="session")
def builtin_templates() -> dict[str, Template]:
    """Every built-in template, loaded and validated, by name."""
    return {
        document["template_name"]: load_template(document) for document in load_builtin_templates()
    }
