"""The self-hosting files (compose.yaml, Dockerfile) and the operations guide name only
settings that exist, so they cannot drift from :class:`~convoflow.settings.Settings`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoflow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SETTING = re.compile(r"\bCONVOFLOW_[A-Z0-9_]*[A-Z0-9]\b")
KNOWN = {"CONVOFLOW_" + name.upper() for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_runs_serve_worker_postgres_and_redis() -> None:
    services = compose()["services"]

    assert set(services) == {"serve", "worker", "postgres", "redis"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["serve"]["command"][:2] == ["convoflow", "serve"]
    assert services["worker"]["command"][:2] == ["convoflow", "worker"]
    assert all("healthcheck" in service for service in services.values())
    for name in ("serve", "worker"):
        environment = services[name]["environment"]
        assert environment["CONVOFLOW_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert environment["CONVOFLOW_REDIS_URL"] == "redis://redis:6379/0"
        assert set(environment) <= KNOWN, set(environment) - KNOWN


def test_the_image_runs_serve_as_a_user_that_is_not_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    assert "pip install ." in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert '"convoflow", "serve", "--host", "0.0.0.0"' in dockerfile


@pytest.mark.parametrize("path", ["compose.yaml", "Dockerfile", "docs/operations.md", "README.md"])
def test_every_setting_named_exists(path: str) -> None:
    text = (ROOT / path).read_text()
    # CONVOFLOW_TEST_* configure the test suite, not convoflow.
    named = {name for name in SETTING.findall(text) if not name.startswith("CONVOFLOW_TEST_")}

    assert named, f"{path} names no setting"
    assert named <= KNOWN, f"{path} names settings that do not exist: {sorted(named - KNOWN)}"
