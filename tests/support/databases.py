"""Test databases: a fresh PostgreSQL database and a SQLite file, migrated once per run."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from convoflow.store.models import Base

POSTGRES_HOST = os.environ.get("CONVOFLOW_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("CONVOFLOW_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("CONVOFLOW_TEST_PG_USER", "postgres")
POSTGRES_ADMIN_URL = (
    f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"
)
REDIS_URL = os.environ.get("CONVOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
#: How often the between-tests TRUNCATE is tried when PostgreSQL reports a deadlock.
TRUNCATE_ATTEMPTS = 5


def port_open(host: str, port: int) -> bool:
    """True when something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (under CI=true) when a service is unreachable."""
    if port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


def postgres_url(database: str) -> str:
    """URL of a database on the test server."""
    return f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"


async def recreate_postgres_database(name: str) -> None:
    """Drop and create ``name`` on the test PostgreSQL server."""
    import asyncpg

    connection = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres"
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_postgres_database(name: str) -> None:
    """Drop ``name`` (closing any connection still open to it)."""
    import asyncpg

    connection = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres"
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def drop_postgres_database_sync(name: str) -> None:
    """Blocking wrapper of :func:`drop_postgres_database`."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, drop_postgres_database(name)).result()


def recreate_postgres_database_sync(name: str) -> None:
    """Blocking wrapper of :func:`recreate_postgres_database` (safe inside a running loop)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, recreate_postgres_database(name)).result()


async def truncate_all(engine: AsyncEngine) -> None:
    """Remove every row of every table, leaving the schema.

    A test's last background write (a flush, a processor pass finishing) may still hold row
    locks when it ends; PostgreSQL may then pick the TRUNCATE as a deadlock victim, so that
    case is tried again rather than failing the next test's setup.
    """
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    for attempt in range(TRUNCATE_ATTEMPTS):
        try:
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
                    )
                else:
                    for table in tables:
                        await connection.execute(text(f"DELETE FROM {table}"))
            return
        except DBAPIError as error:
            if "deadlock detected" not in str(error) or attempt == TRUNCATE_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
