"""Dialect-aware INSERT ... ON CONFLICT, for PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(db_session: AsyncSession, table: Any) -> Any:
    """An INSERT construct with ``on_conflict_do_*`` for the session's database."""
    bind = db_session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
