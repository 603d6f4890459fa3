"""Alembic environment: runs migrations on the async engine or prints SQL offline."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from convoflow.errors import SettingsError
from convoflow.store.database import create_engine
from convoflow.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SettingsError("sqlalchemy.url is not set on the Alembic config")
    return url


def run_migrations_offline() -> None:
    """Emit the DDL as SQL text (``convoflow db sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Apply migrations through the async engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = create_engine(_url())
    async with engine.connect() as async_connection:
        await async_connection.run_sync(_run_with)
        await async_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
