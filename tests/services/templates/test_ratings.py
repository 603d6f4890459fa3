"""Ratings given at the same moment on PostgreSQL: every one counts, each user once.

The dangerous moment is made to happen on purpose: a transaction of the test holds the
lock a rating waits for, the raters are started, and the lock is let go only once the
database reports them all waiting. No timing is guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller
from convoflow.services.templates.ratings import RatedTemplate, rate_template
from convoflow.store import accounts, templates
from convoflow.store.models import WorkflowTemplate
from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.webhooks import eventually

pytestmark = pytest.mark.postgres

GREETING: dict[str, Any] = {
    "template_name": "greet",
    "is_public": True,
    "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end", "text": "Hi"}]},
}


@pytest.fixture
async def pg_runtime(pg_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(make_settings(pg_url))
    await truncate_all(runtime.engine)
    yield runtime
    await truncate_all(runtime.engine)
    await runtime.close()


async def make_users(runtime: Runtime, *names: str) -> list[Caller]:
    async with runtime.db_sessions.begin() as db_session:
        users = [await accounts.create_user(db_session, username=name) for name in names]
        return [Caller(id=user.id, username=user.username) for user in users]


async def make_template(runtime: Runtime, owner: Caller) -> WorkflowTemplate:
    async with runtime.db_sessions.begin() as db_session:
        return await templates.create_template(db_session, owner_id=owner.id, definition=GREETING)


def rating_by(runtime: Runtime, caller: Caller, template_id: str, stars: int) -> asyncio.Task[Any]:
    async def run() -> RatedTemplate:
        async with runtime.db_sessions() as db_session:
            return await rate_template(
                db_session,
                caller=caller,
                template_id=template_id,
                rating=stars,
                now=runtime.clock.now(),
            )

    return asyncio.create_task(run())


async def waiting(runtime: Runtime, db_sessions: int) -> None:
    """Return once exactly ``db_sessions`` sessions of this database wait for a lock."""

    async def reached() -> bool:
        async with runtime.engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        return count == db_sessions

    await eventually(reached, what=f"{db_sessions} sessions waiting for a lock")


async def stored(runtime: Runtime, template_id: str) -> tuple[float, int]:
    async with runtime.db_sessions() as db_session:
        row = await db_session.get(WorkflowTemplate, template_id)
        assert row is not None
        return row.rating, row.rating_count


async def hold_template_lock(runtime: Runtime, template_id: str) -> Any:
    """An open transaction holding the lock a rating of ``template_id`` waits for."""
    connection = await runtime.engine.connect()
    await connection.begin()
    await connection.execute(
        text("SELECT id FROM workflow_templates WHERE id = :id FOR NO KEY UPDATE"),
        {"id": template_id},
    )
    return connection


async def test_two_users_rating_at_once_both_count(pg_runtime: Runtime) -> None:
    alice, bob = await make_users(pg_runtime, "alice", "bob")
    template = await make_template(pg_runtime, alice)
    blocker = await hold_template_lock(pg_runtime, template.id)
    raters = [
        rating_by(pg_runtime, alice, template.id, 4),
        rating_by(pg_runtime, bob, template.id, 1),
    ]
    # Both ratings are written and both wait to count them: neither sees the other's yet.
    await waiting(pg_runtime, 2)
    await blocker.rollback()
    await blocker.close()
    results = await asyncio.gather(*raters)
    assert sorted(result.rating_count for result in results) == [1, 2]
    assert await stored(pg_runtime, template.id) == (2.5, 2)


async def test_one_user_rating_twice_at_once_counts_once(pg_runtime: Runtime) -> None:
    (alice,) = await make_users(pg_runtime, "alice")
    template = await make_template(pg_runtime, alice)
    blocker = await hold_template_lock(pg_runtime, template.id)
    first = rating_by(pg_runtime, alice, template.id, 5)
    await waiting(pg_runtime, 1)
    second = rating_by(pg_runtime, alice, template.id, 2)  # waits for the first one's row
    await waiting(pg_runtime, 2)
    await blocker.rollback()
    await blocker.close()
    await asyncio.gather(first, second)
    assert await stored(pg_runtime, template.id) == (2.0, 1)


async def test_a_rating_waiting_while_a_new_version_is_saved_lands_on_it(
    pg_runtime: Runtime,
) -> None:
    alice, bob = await make_users(pg_runtime, "alice", "bob")
    first = await make_template(pg_runtime, alice)
    async with pg_runtime.db_sessions.begin() as db_session:
        second = (
            await templates.save_new_version(
                db_session, current=first, definition={"description": "2"}
            )
        ).template
    async with pg_runtime.db_sessions() as saving:
        await saving.begin()
        third = (
            await templates.save_new_version(
                saving, current=second, definition={"description": "3"}
            )
        ).template
        rater = rating_by(pg_runtime, bob, first.id, 3)
        await waiting(pg_runtime, 1)
        await saving.commit()
    result = await rater
    assert result.template_id == third.id
    assert await stored(pg_runtime, third.id) == (3.0, 1)
    assert await stored(pg_runtime, second.id) == (0.0, 0)
