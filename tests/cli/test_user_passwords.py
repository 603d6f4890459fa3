"""``convoflow users create NAME --password`` and ``convoflow users set-password NAME``:
the password asked for twice on a terminal, or read from a pipe; the key stays last."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convoflow.runtime import Runtime
from convoflow.services.access.passwords import verify_password
from convoflow.store import accounts
from tests.cli.test_key_commands import last_line, run_cli, works
from tests.conftest import make_settings


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"


def cli_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(CONVOFLOW_DATABASE_URL=database_url, COLUMNS="200")
    return env


def piped(database_url: str, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with ``stdin`` piped in."""
    return subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=cli_env(database_url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def password_of(database_url: str, username: str) -> str | None:
    """The stored password hash of a user."""

    async def load() -> str | None:
        runtime = Runtime.build(make_settings(database_url))
        try:
            async with runtime.db_sessions() as db_session:
                return (await accounts.get_user(db_session, username)).password_hash
        finally:
            await runtime.close()

    return asyncio.run(load())


def signs_in_with(database_url: str, username: str, password: str) -> bool:
    return asyncio.run(verify_password(password_of(database_url, username), password))


def at_a_terminal(database_url: str, answers: list[str], *args: str) -> tuple[int, str, str]:
    """Run the command with a terminal as stdin, typing each answer once its prompt is
    shown; returns the exit code, stdout and stderr (stdout stays a pipe)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=cli_env(database_url),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: the prompt goes to stderr
    )
    os.close(terminal)
    assert process.stderr is not None and process.stdout is not None
    shown = b""
    try:
        for answer in answers:
            # Typed only once the prompt is out: echo is switched off (and pending input
            # flushed) just before the prompt is written.
            shown = _read_until_prompt(process, shown)
            os.write(controller, answer.encode() + b"\n")
        stdout, rest = process.communicate(timeout=120)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout.decode(), (shown + rest).decode()


def _read_until_prompt(process: subprocess.Popen[bytes], shown: bytes) -> bytes:
    assert process.stderr is not None
    prompts = shown.count(b": ")
    deadline = time.monotonic() + 120  # a guard only: the prompt comes within seconds
    while shown.count(b": ") == prompts:
        assert time.monotonic() < deadline, shown
        assert process.poll() is None, shown
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            shown += os.read(process.stderr.fileno(), 4096)
    return shown


def test_create_with_a_piped_password_keeps_the_key_on_the_last_line(database: str) -> None:
    result = piped(database, "correct horse battery\n", "users", "create", "carol", "--password")

    key = last_line(result)
    assert key.startswith("cfk_") and " " not in key
    assert "correct horse" not in result.stdout + result.stderr
    assert signs_in_with(database, "carol", "correct horse battery")
    assert works(database, key)


def test_create_at_a_terminal_asks_twice_without_echo(database: str) -> None:
    code, stdout, stderr = at_a_terminal(
        database, ["typed-secret-1", "typed-secret-1"], "users", "create", "dave", "--password"
    )

    assert code == 0, stdout + stderr
    assert "Password" in stderr and "confirmation" in stderr
    assert "typed-secret-1" not in stdout + stderr
    key = stdout.strip().splitlines()[-1]
    assert key.startswith("cfk_")
    assert works(database, key)
    assert signs_in_with(database, "dave", "typed-secret-1")


def test_create_without_password_option_makes_a_key_only_user(database: str) -> None:
    last_line(run_cli(database, "users", "create", "erin"))

    assert password_of(database, "erin") is None


def test_create_admin_and_a_too_short_password_is_refused(database: str) -> None:
    short = piped(database, "1234567\n", "users", "create", "frank", "--password")
    assert short.returncode == 1
    assert "password: must be at least 8 characters" in short.stderr
    assert "Traceback" not in short.stderr

    admin = piped(database, "long-enough\n", "users", "create", "grace", "--password", "--admin")
    last_line(admin)

    async def is_admin() -> bool:
        runtime = Runtime.build(make_settings(database))
        try:
            async with runtime.db_sessions() as db_session:
                names = {"frank": await accounts.find_user(db_session, "frank")}
                assert names["frank"] is None  # the short password created nobody
                return (await accounts.get_user(db_session, "grace")).is_admin
        finally:
            await runtime.close()

    assert asyncio.run(is_admin())


def test_set_password_piped_and_at_a_terminal(database: str) -> None:
    last_line(run_cli(database, "users", "create", "heidi"))

    result = piped(database, "piped-password\n", "users", "set-password", "heidi")
    assert result.returncode == 0, result.stderr
    assert "password of heidi set" in result.stdout
    assert signs_in_with(database, "heidi", "piped-password")

    code, stdout, stderr = at_a_terminal(
        database, ["typed-password", "typed-password"], "users", "set-password", "heidi"
    )
    assert code == 0, stdout + stderr
    assert signs_in_with(database, "heidi", "typed-password")

    unknown = piped(database, "whatever-1\n", "users", "set-password", "nobody")
    assert unknown.returncode == 1
    assert "no user named 'nobody'" in unknown.stderr
