"""Upgrading to one rating per user keeps every rating already given, on both databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Boolean, String, column, insert, select, table, text, update

from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller
from convoflow.services.templates.ratings import rate_template
from convoflow.store import accounts, migrate, templates
from convoflow.store.models import WorkflowTemplate
from convoflow.store.types import UTCDateTime, new_id, utcnow
from tests.conftest import make_settings
from tests.support.databases import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    drop_postgres_database,
    postgres_url,
    recreate_postgres_database,
    require_service,
)

BEFORE = "0001"
GREETING = {
    "template_name": "greet",
    "is_public": True,
    "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end", "text": "Hi"}]},
}


#: Its own database per test run, so runs on the same server do not meet.
PG_DATABASE = f"convoflow_ratings_migration_{os.getpid()}"


@pytest.fixture(params=["sqlite", "postgres"])
async def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind, migrated to the schema before this change."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ratings.db'}"
    else:
        require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
        await recreate_postgres_database(PG_DATABASE)
        url = postgres_url(PG_DATABASE)
    await migrate.upgrade_async(url, BEFORE)
    yield url
    if request.param == "postgres":
        await drop_postgres_database(PG_DATABASE)


#: ``users`` as the old schema has it: today's model has columns added since.
OLD_USERS = table(
    "users",
    column("id", String),
    column("username", String),
    column("display_name", String),
    column("is_active", Boolean),
    column("created_at", UTCDateTime()),
)


async def old_owner(runtime: Runtime) -> str:
    """The id of the template owner, created with the old schema's columns only."""
    async with runtime.db_sessions.begin() as db_session:
        found = await db_session.scalar(
            select(OLD_USERS.c.id).where(OLD_USERS.c.username == "owner")
        )
        if found is not None:
            return str(found)
        owner_id = new_id()
        await db_session.execute(
            insert(OLD_USERS).values(
                id=owner_id,
                username="owner",
                display_name="owner",
                is_active=True,
                created_at=utcnow(),
            )
        )
        return owner_id


async def rated_template(runtime: Runtime, *, versions: int, rating: float, count: int) -> str:
    """A template with ``versions`` versions whose latest was rated the old way."""
    owner_id = await old_owner(runtime)
    async with runtime.db_sessions.begin() as db_session:
        name = f"greet{versions}"
        row = await templates.create_template(
            db_session, owner_id=owner_id, definition={**GREETING, "template_name": name}
        )
        for number in range(2, versions + 1):
            saved = await templates.save_new_version(
                db_session, current=row, definition={"description": str(number)}
            )
            row = saved.template
        await db_session.execute(
            update(WorkflowTemplate)
            .where(WorkflowTemplate.id == row.id)
            .values(rating=rating, rating_count=count)
        )
        return row.family_id


async def latest_rating(runtime: Runtime, family_id: str) -> tuple[float, int]:
    async with runtime.db_sessions() as db_session:
        row = (
            await db_session.execute(
                select(WorkflowTemplate).where(
                    WorkflowTemplate.family_id == family_id, WorkflowTemplate.is_latest.is_(True)
                )
            )
        ).scalar_one()
        return row.rating, row.rating_count


async def legacy_rows(runtime: Runtime) -> set[tuple[str, int, int]]:
    async with runtime.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT family_id, rating_sum, rating_count FROM legacy_template_ratings")
        )
        return {(row[0], row[1], row[2]) for row in result}


async def test_ratings_given_before_the_upgrade_still_count(old_database: str) -> None:
    runtime = Runtime.build(make_settings(old_database))
    try:
        rated = await rated_template(runtime, versions=2, rating=17 / 5, count=5)
        unrated = await rated_template(runtime, versions=1, rating=0.0, count=0)
        await migrate.upgrade_async(old_database)
        assert await legacy_rows(runtime) == {(rated, 17, 5)}

        async with runtime.db_sessions.begin() as db_session:
            rater = await accounts.create_user(db_session, username="rater")
        caller = Caller(id=rater.id, username=rater.username)
        for stars in (1, 5):  # the second replaces the first
            async with runtime.db_sessions() as db_session:
                await rate_template(
                    db_session, caller=caller, template_id=rated, rating=stars, now=utcnow()
                )
            async with runtime.db_sessions() as db_session:
                await rate_template(
                    db_session, caller=caller, template_id=unrated, rating=stars, now=utcnow()
                )
        assert await latest_rating(runtime, rated) == (22 / 6, 6)
        assert await latest_rating(runtime, unrated) == (5.0, 1)

        # Going back keeps the averages on the templates; coming forward again keeps them too.
        await asyncio.to_thread(migrate.downgrade, old_database, BEFORE)
        assert await latest_rating(runtime, rated) == (22 / 6, 6)
        await migrate.upgrade_async(old_database)
        assert await legacy_rows(runtime) == {(rated, 22, 6), (unrated, 5, 1)}
    finally:
        await runtime.close()
