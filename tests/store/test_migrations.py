"""Migrations apply, revert and re-apply on both databases, and match the models."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from convoflow.store import accounts, migrate, templates
from convoflow.store.database import create_db_session_factory, create_engine
from convoflow.store.models import Base, ConversationStateRow
from convoflow.store.types import utcnow
from tests.support.databases import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    drop_postgres_database,
    postgres_url,
    recreate_postgres_database,
    require_service,
)


@pytest.fixture(params=["sqlite", "postgres"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    # One scratch database per test run, so runs on the same server never collide.
    name = f"convoflow_scratch_{os.getpid()}"
    await recreate_postgres_database(name)
    yield postgres_url(name)
    await drop_postgres_database(name)


FTS_TABLE = "knowledge_chunks_fts"
FTS_INDEX = "ix_knowledge_chunks_text_search"
FTS_COLUMN = "search_vector"


def _full_text_search(diff: Any) -> bool:
    """A difference that is the full-text search of knowledge chunks (migration
    0007_kb_search), which the models do not describe."""
    if diff[0] == "remove_table":
        return str(diff[1].name).startswith(FTS_TABLE)
    if diff[0] == "remove_column":
        return bool(diff[2] == "knowledge_chunks" and diff[3].name == FTS_COLUMN)
    return diff[0] == "remove_index" and diff[1].name == FTS_INDEX


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    # SQLite's FTS5 table of knowledge chunks and its shadow tables are no model's.
    return {name for name in names if not name.startswith(FTS_TABLE)} - {"alembic_version"}


def _schema_differences(url: str) -> list[Any]:
    """What autogenerate would still add or change after the migrations ran."""
    import asyncio

    async def compare() -> list[Any]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:

            def run(sync_connection: Any) -> list[Any]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                diffs = compare_metadata(context, Base.metadata)
                # The GIN index exists on PostgreSQL only (DDL-conditional in the model);
                # the full-text structures of knowledge chunks are no model's (raw SQL).
                return [
                    diff
                    for diff in diffs
                    if not (
                        sync_connection.dialect.name == "sqlite"
                        and diff[0] == "add_index"
                        and diff[1].name == "ix_workflow_templates_trigger_keywords"
                    )
                    and not _full_text_search(diff)
                ]

            result = await connection.run_sync(run)
        await engine.dispose()
        return result

    return asyncio.run(compare())


async def test_upgrade_downgrade_upgrade_round_trip(scratch_url: str) -> None:
    expected = {table.name for table in Base.metadata.sorted_tables}
    await migrate.upgrade_async(scratch_url)
    assert await table_names(scratch_url) == expected
    import asyncio

    await asyncio.to_thread(migrate.downgrade, scratch_url, "base")
    assert await table_names(scratch_url) == set()
    await migrate.upgrade_async(scratch_url)
    assert await table_names(scratch_url) == expected


async def test_models_match_migrations_without_drift(scratch_url: str) -> None:
    import asyncio

    await migrate.upgrade_async(scratch_url)
    assert await asyncio.to_thread(_schema_differences, scratch_url) == []


def test_offline_sql_prints_full_postgres_ddl() -> None:
    ddl = migrate.offline_sql("postgresql+asyncpg://user@localhost/db")
    for table in Base.metadata.sorted_tables:
        assert f"CREATE TABLE {table.name}" in ddl
    assert "USING gin (trigger_keywords)" in ddl
    assert "TEXT[]" in ddl
    assert "CREATE UNIQUE INDEX uq_workflow_templates_owner_name_latest" in ddl


async def _timer_schema(url: str) -> tuple[set[str], set[str], int]:
    """The timer columns and index on conversation_state, and how many rows it holds."""
    engine = create_async_engine(url)
    async with engine.connect() as connection:

        def read(sync: Any) -> tuple[set[str], set[str]]:
            inspector = inspect(sync)
            columns = {column["name"] for column in inspector.get_columns("conversation_state")}
            indexes = {index["name"] for index in inspector.get_indexes("conversation_state")}
            return {c for c in columns if c.startswith("timer_")}, {
                i for i in indexes if i and "timer" in i
            }

        columns, indexes = await connection.run_sync(read)
        rows = (await connection.execute(text("SELECT count(*) FROM conversation_state"))).scalar()
    await engine.dispose()
    return columns, indexes, int(rows or 0)


async def test_step_timer_migration_reverts_and_reapplies_keeping_conversations(
    scratch_url: str,
) -> None:
    import asyncio

    await migrate.upgrade_async(scratch_url)
    engine = create_engine(scratch_url)
    async with create_db_session_factory(engine).begin() as db_session:
        owner = await accounts.create_user(db_session, username="owner")
        template = await templates.create_template(
            db_session,
            owner_id=owner.id,
            definition={
                "template_name": "menu",
                "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end"}]},
            },
        )
        now = utcnow()
        db_session.add(
            ConversationStateRow(
                owner_id=owner.id,
                phone_number="15550001111",
                conversation_flow="menu",
                current_step="a",
                context={},
                template_id=template.id,
                expires_at=now,
                timer_id="a@x",
                timer_due_at=now,
            )
        )
    await engine.dispose()
    timer_index = {"ix_conversation_state_timer_due_at"}
    assert await _timer_schema(scratch_url) == ({"timer_id", "timer_due_at"}, timer_index, 1)

    await asyncio.to_thread(migrate.downgrade, scratch_url, "0001")
    assert await _timer_schema(scratch_url) == (set(), set(), 1)

    await migrate.upgrade_async(scratch_url)
    assert await _timer_schema(scratch_url) == ({"timer_id", "timer_due_at"}, timer_index, 1)
