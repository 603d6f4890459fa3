"""Shared fixtures: a migrated database per kind (SQLite, PostgreSQL) and a runtime on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from convoflow.runtime import Runtime
from convoflow.settings import Settings
from convoflow.store import migrate
from tests.jobs.outside_api import OutsideApi
from tests.support.databases import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    drop_postgres_database_sync,
    postgres_url,
    recreate_postgres_database_sync,
    require_service,
    truncate_all,
)

pytest_plugins = ["tests.support.redis_fixtures", "tests.support.graph_fixtures"]

# One database per test run, so runs on the same server never share rows.
TEST_PG_DATABASE = f"convoflow_test_{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def send_journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Sends parked during a test's database outage go to a temporary directory, not the
    working directory (``CONVOFLOW_SEND_JOURNAL_DIR``, read by every runtime's settings)."""
    directory = tmp_path_factory.mktemp("send-journal")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVOFLOW_SEND_JOURNAL_DIR", str(directory))
        yield directory


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database file for the whole run."""
    path: Path = tmp_path_factory.mktemp("db") / "convoflow_test.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database (created fresh) for the whole run, dropped after it."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    recreate_postgres_database_sync(TEST_PG_DATABASE)
    url = postgres_url(TEST_PG_DATABASE)
    migrate.upgrade(url)
    yield url
    drop_postgres_database_sync(TEST_PG_DATABASE)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    name = "pg_url" if request.param == "postgres" else "sqlite_url"
    if request.param == "postgres":
        request.node.add_marker(pytest.mark.postgres)
    yield request.getfixturevalue(name)


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test: no environment, the given database."""
    return Settings(database_url=database_url, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime on a clean database; rows are removed again afterwards."""
    rt = Runtime.build(make_settings(database_url))
    await truncate_all(rt.engine)
    try:
        yield rt
    finally:
        await truncate_all(rt.engine)
        await rt.close()


@pytest.fixture
def outside_api() -> Iterator[OutsideApi]:
    """A stand-in outside API on 127.0.0.1 (for http steps and end actions)."""
    api = OutsideApi()
    api.start()
    yield api
    api.stop()
