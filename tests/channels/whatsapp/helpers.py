"""Webhook fixture files: one JSON file per update type, in ``fixtures/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE_DIR = Path(__file__).parent / "fixtures"


def fixture_names() -> list[str]:
    """Every fixture file's name, without ``.json``."""
    return sorted(path.stem for path in FIXTURE_DIR.glob("*.json"))


def load_fixture(name: str) -> Any:
    """The decoded webhook body stored as ``fixtures/<name>.json``."""
    return json.loads((FIXTURE_DIR / f"{name}.json").read_text(encoding="utf-8"))
