"""Alembic entry points used by the CLI, the server start-up and the tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "convoflow.store:migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def _outside_event_loop(work: Callable[[], None]) -> None:
    """Run ``work`` (which starts its own event loop) even when a loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        work()
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; Alembic runs its own event loop)."""
    _outside_event_loop(lambda: command.upgrade(alembic_config(database_url), revision))


def downgrade(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    _outside_event_loop(lambda: command.downgrade(alembic_config(database_url), revision))


def offline_sql(database_url: str, revision: str = "head") -> str:
    """The full DDL for ``database_url``'s dialect, as Alembic's offline mode prints it."""
    buffer = io.StringIO()
    config = alembic_config(database_url)
    config.stdout = buffer
    with redirect_stdout(buffer):
        command.upgrade(config, revision, sql=True)
    return buffer.getvalue()


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Apply migrations from async code (Alembic's env runs its own loop, so use a thread)."""
    await asyncio.to_thread(upgrade, database_url, revision)
