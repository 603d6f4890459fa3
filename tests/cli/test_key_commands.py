"""``convoflow keys list`` and ``convoflow keys revoke`` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from convoflow.runtime import Runtime
from convoflow.store import accounts
from convoflow.store.models import ApiKey
from convoflow.store.types import utcnow
from tests.conftest import make_settings


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    # A wide terminal keeps each table row on one line.
    env.update(CONVOFLOW_DATABASE_URL=database_url, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().splitlines()[-1]


def stored_keys(database_url: str, username: str) -> list[ApiKey]:
    async def load() -> list[ApiKey]:
        runtime = Runtime.build(make_settings(database_url))
        try:
            async with runtime.db_sessions() as db_session:
                user = await accounts.get_user(db_session, username)
                rows, _ = await accounts.list_api_keys(db_session, user_id=user.id)
                return rows
        finally:
            await runtime.close()

    return asyncio.run(load())


def works(database_url: str, plain_key: str) -> bool:
    async def check() -> bool:
        runtime = Runtime.build(make_settings(database_url))
        try:
            async with runtime.db_sessions.begin() as db_session:
                return await accounts.authenticate(db_session, plain_key, now=utcnow()) is not None
        finally:
            await runtime.close()

    return asyncio.run(check())


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"


def test_list_shows_every_key_without_the_secret(database: str) -> None:
    first = last_line(run_cli(database, "users", "create", "carol"))
    second = last_line(run_cli(database, "keys", "create", "--user", "carol", "--label", "ci"))
    run_cli(database, "users", "create", "dave")

    listing = run_cli(database, "keys", "list", "--user", "carol")
    assert listing.returncode == 0, listing.stderr
    output = listing.stdout
    assert first not in output and second not in output
    rows = {key.id: key for key in stored_keys(database, "carol")}
    assert len(rows) == 2
    lines = {
        key_id: next(line for line in output.splitlines() if key_id in line) for key_id in rows
    }
    for key_id, key in rows.items():
        assert key.key_prefix in lines[key_id]
        assert "never" in lines[key_id]  # last used
        assert lines[key_id].rstrip().endswith("no")  # not revoked
    ci_key = next(key for key in rows.values() if key.name == "ci")
    assert ci_key.key_prefix == second[:12]
    assert " ci " in lines[ci_key.id]
    assert "created with the user" in output
    dave_keys = {key.id for key in stored_keys(database, "dave")}
    assert not any(key_id in output for key_id in dave_keys)


def test_revoke_stops_the_key_and_the_listing_shows_it(database: str) -> None:
    kept = last_line(run_cli(database, "users", "create", "erin"))
    doomed = last_line(run_cli(database, "keys", "create", "--user", "erin"))
    key_id = next(key.id for key in stored_keys(database, "erin") if key.key_prefix == doomed[:12])

    revoked = run_cli(database, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked API key {key_id}" in revoked.stdout
    assert not works(database, doomed)
    assert works(database, kept)
    line = next(
        line
        for line in run_cli(database, "keys", "list", "--user", "erin").stdout.splitlines()
        if key_id in line
    )
    assert re.search(r"never\s+\d{4}-\d\d-\d\d \d\d:\d\d$", line.rstrip()), line

    again = run_cli(database, "keys", "revoke", key_id)
    assert again.returncode == 0, again.stderr
    assert "already revoked" in again.stdout and "nothing changed" in again.stdout
    assert "Traceback" not in again.stderr


def test_unknown_key_or_user_is_a_clear_error_with_exit_code_1(database: str) -> None:
    run_cli(database, "users", "create", "frank")
    unknown = run_cli(database, "keys", "revoke", "01JNOSUCHKEY0000000000000")
    assert unknown.returncode == 1
    assert "no API key with id '01JNOSUCHKEY0000000000000'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    nobody = run_cli(database, "keys", "list", "--user", "nobody")
    assert nobody.returncode == 1
    assert "no user named 'nobody'" in nobody.stderr
    assert len(stored_keys(database, "frank")) == 1
    assert stored_keys(database, "frank")[0].revoked_at is None
