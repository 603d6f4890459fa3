"""The operator commands as a user runs them: seed, users, keys, db, cleanup."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from convoflow.runtime import Runtime
from convoflow.store import accounts
from convoflow.store.models import ConversationStateRow, PhoneNumber, User, WorkflowTemplate
from convoflow.store.types import utcnow
from tests.conftest import make_settings

BUILTIN_NAMES = ["account", "loan_application", "main_menu", "new_order", "support"]


def run_cli(
    database_url: str, *args: str, check: bool = True, settings: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env["CONVOFLOW_DATABASE_URL"] = database_url
    env.update(settings or {})
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def test_seed_creates_builtins_then_changes_nothing(fresh_sqlite: str) -> None:
    first = run_cli(fresh_sqlite, "seed").stdout
    assert "created owner admin" in first
    for name in BUILTIN_NAMES:
        assert f"created: {name}" in first
    second = run_cli(fresh_sqlite, "seed").stdout
    assert "created" not in second
    for name in BUILTIN_NAMES:
        assert f"unchanged: {name}" in second


def test_seed_gives_admin_the_settings_number_and_a_0600_token_key_beside_the_database(
    fresh_sqlite: str, tmp_path: Path
) -> None:
    number = {"CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID": "106540352242922"}
    run_cli(
        fresh_sqlite, "seed", settings={**number, "CONVOFLOW_WHATSAPP_BUSINESS_ACCOUNT_ID": "1"}
    )
    run_cli(
        fresh_sqlite, "seed", settings={**number, "CONVOFLOW_WHATSAPP_BUSINESS_ACCOUNT_ID": "2"}
    )

    key_file = tmp_path / "cli.key"
    assert key_file.stat().st_mode & 0o777 == 0o600

    async def registered() -> list[tuple[str, str, str | None]]:
        runtime = Runtime.build(make_settings(fresh_sqlite))
        try:
            async with runtime.db_sessions() as db_session:
                rows = await db_session.execute(
                    select(User.username, PhoneNumber.phone_number_id, PhoneNumber.waba_id).join(
                        User, User.id == PhoneNumber.owner_id
                    )
                )
                return [tuple(row) for row in rows]
        finally:
            await runtime.close()

    import asyncio

    assert asyncio.run(registered()) == [("admin", "106540352242922", "2")]


def test_seed_script_module_is_the_same_command(fresh_sqlite: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    env["CONVOFLOW_DATABASE_URL"] = fresh_sqlite
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.scripts.create_initial_templates"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "created: main_menu" in result.stdout


def test_users_create_prints_key_alone_on_last_line(fresh_sqlite: str) -> None:
    output = run_cli(fresh_sqlite, "users", "create", "carol").stdout
    key = output.strip().splitlines()[-1]
    assert key.startswith("cfk_") and " " not in key
    another = run_cli(fresh_sqlite, "keys", "create", "--user", "carol").stdout
    second_key = another.strip().splitlines()[-1]
    assert second_key.startswith("cfk_") and second_key != key

    async def check() -> None:
        runtime = Runtime.build(make_settings(fresh_sqlite))
        async with runtime.db_sessions() as db_session:
            first_user = await accounts.authenticate(db_session, key, now=utcnow())
            second_user = await accounts.authenticate(db_session, second_key, now=utcnow())
            nobody = await accounts.authenticate(db_session, key + "x", now=utcnow())
        await runtime.close()
        assert first_user is not None and first_user.username == "carol"
        assert second_user is not None and second_user.id == first_user.id
        assert nobody is None

    import asyncio

    asyncio.run(check())


def test_users_create_refuses_duplicate_and_keys_for_unknown_user(fresh_sqlite: str) -> None:
    run_cli(fresh_sqlite, "users", "create", "dave")
    again = run_cli(fresh_sqlite, "users", "create", "dave", check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    unknown = run_cli(fresh_sqlite, "keys", "create", "--user", "nobody", check=False)
    assert unknown.returncode == 1
    assert "no user named 'nobody'" in unknown.stderr


def test_wrong_setting_stops_with_one_line_naming_it(fresh_sqlite: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    env.update(CONVOFLOW_DATABASE_URL=fresh_sqlite, CONVOFLOW_WHATSAPP_MAX_MPS="fast")
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", "seed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CONVOFLOW_WHATSAPP_MAX_MPS" in lines[0]


def test_db_sql_prints_ddl_and_db_commands_migrate(fresh_sqlite: str, tmp_path: Path) -> None:
    ddl = run_cli("postgresql+asyncpg://u@localhost/db", "db", "sql").stdout
    assert "CREATE TABLE workflow_templates" in ddl
    run_cli(fresh_sqlite, "db", "upgrade")
    run_cli(fresh_sqlite, "db", "downgrade", "base")
    run_cli(fresh_sqlite, "db", "upgrade")


def test_cleanup_reports_and_removes_expired_states(fresh_sqlite: str) -> None:
    run_cli(fresh_sqlite, "seed")

    async def add_states() -> None:
        runtime = Runtime.build(make_settings(fresh_sqlite))
        async with runtime.db_sessions.begin() as db_session:
            owner = await accounts.get_user(db_session, "admin")
            template = (await db_session.execute(select(WorkflowTemplate).limit(1))).scalar_one()
            for index, delta in enumerate((-60, -1, 3600)):
                db_session.add(
                    ConversationStateRow(
                        owner_id=owner.id,
                        phone_number=f"1555000{index}",
                        conversation_flow=template.template_name,
                        current_step="welcome",
                        context={},
                        template_id=template.id,
                        expires_at=utcnow() + timedelta(seconds=delta),
                    )
                )
        await runtime.close()

    async def remaining() -> int:
        runtime = Runtime.build(make_settings(fresh_sqlite))
        async with runtime.db_sessions() as db_session:
            count = (
                await db_session.execute(select(func.count(ConversationStateRow.id)))
            ).scalar_one()
        await runtime.close()
        return int(count)

    import asyncio

    asyncio.run(add_states())
    assert "removed 2 expired conversation states" in run_cli(fresh_sqlite, "cleanup").stdout
    assert asyncio.run(remaining()) == 1
