"""Commands refuse to start, in one line naming the setting, when a service does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def convoflow(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run the command with only the given ``CONVOFLOW_*`` settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update({f"CONVOFLOW_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a guard only: a refused connection fails at once
    )


@pytest.mark.parametrize(
    "command",
    [["serve", "--port", str(closed_port())], ["seed"]],
    ids=["serve", "seed"],
)
def test_unreachable_database_stops_the_command_with_one_line(command: list[str]) -> None:
    port = closed_port()

    result = convoflow(
        *command, database_url=f"postgresql+asyncpg://convoflow:secret@127.0.0.1:{port}/shop"
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: CONVOFLOW_DATABASE_URL: cannot connect to "
        f"postgresql+asyncpg://***@127.0.0.1:{port}/shop: connection refused"
    ]
    assert result.stdout == ""  # never got as far as serving


@pytest.mark.parametrize(
    "command", [["serve", "--port", str(closed_port())], ["worker"]], ids=["serve", "worker"]
)
def test_unreachable_redis_stops_the_command_before_touching_the_database(
    command: list[str], tmp_path: Path
) -> None:
    port = closed_port()
    database = tmp_path / "convoflow.db"

    result = convoflow(
        *command,
        database_url=f"sqlite+aiosqlite:///{database}",
        redis_url=f"redis://:secret@127.0.0.1:{port}/0",
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: CONVOFLOW_REDIS_URL: cannot connect to redis://***@127.0.0.1:{port}/0: "
        "connection refused"
    ]
    assert result.stdout == ""
    assert not database.exists()


def test_a_missing_database_is_named_with_the_servers_own_words(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "convoflow.db"

    result = convoflow("seed", database_url=f"sqlite+aiosqlite:///{missing}")

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: CONVOFLOW_DATABASE_URL: cannot connect to sqlite+aiosqlite:///{missing}: "
        "unable to open database file"
    ]
