"""The operator SQL of the specification runs unchanged on a seeded PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from convoflow.store import accounts, templates
from convoflow.store.models import ConversationStateRow
from convoflow.store.types import utcnow
from tests.conftest import make_settings
from tests.support.databases import truncate_all

pytestmark = pytest.mark.postgres


@pytest.fixture
async def seeded_pg(pg_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(make_settings(pg_url))
    await truncate_all(runtime.engine)
    await seed(runtime.db_sessions)
    yield runtime
    await truncate_all(runtime.engine)
    await runtime.close()


async def add_state(runtime: Runtime, phone: str, flow: str, step: str, ttl: int) -> None:
    async with runtime.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        template = await templates.find_latest(db_session, owner_id=owner.id, name=flow)
        assert template is not None
        db_session.add(
            ConversationStateRow(
                owner_id=owner.id,
                phone_number=phone,
                conversation_flow=flow,
                current_step=step,
                context={},
                template_id=template.id,
                expires_at=utcnow() + timedelta(seconds=ttl),
            )
        )


async def test_templates_listed_by_creation(seeded_pg: Runtime) -> None:
    async with seeded_pg.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT template_name, is_active, created_at FROM workflow_templates "
                    "ORDER BY created_at;"
                )
            )
        ).all()
    assert sorted(row.template_name for row in rows) == [
        "account",
        "loan_application",
        "main_menu",
        "new_order",
        "support",
    ]
    assert all(row.is_active for row in rows)


async def test_hi_finds_main_menu_by_any_trigger_keywords(seeded_pg: Runtime) -> None:
    async with seeded_pg.engine.connect() as connection:
        rows = (
            (
                await connection.execute(
                    text(
                        "SELECT * FROM workflow_templates WHERE 'hi' = ANY(trigger_keywords) "
                        "AND is_active = true;"
                    )
                )
            )
            .mappings()
            .all()
        )
    assert [row["template_name"] for row in rows] == ["main_menu"]
    assert {"hi", "hello", "start", "menu"} <= set(rows[0]["trigger_keywords"])


async def test_live_states_and_counts_per_flow(seeded_pg: Runtime) -> None:
    await add_state(seeded_pg, "15550000001", "main_menu", "welcome", 3600)
    await add_state(seeded_pg, "15550000002", "main_menu", "welcome", 3600)
    await add_state(seeded_pg, "15550000003", "new_order", "pick", 3600)
    await add_state(seeded_pg, "15550000004", "support", "faq", -10)
    async with seeded_pg.engine.connect() as connection:
        live = (
            await connection.execute(
                text(
                    "SELECT phone_number, conversation_flow, current_step, created_at "
                    "FROM conversation_state WHERE expires_at > NOW() ORDER BY created_at DESC;"
                )
            )
        ).all()
        counts = (
            await connection.execute(
                text(
                    "SELECT conversation_flow, COUNT(*) FROM conversation_state "
                    "WHERE expires_at > NOW() GROUP BY conversation_flow;"
                )
            )
        ).all()
    assert [row.phone_number for row in live] == ["15550000003", "15550000002", "15550000001"]
    assert dict((row[0], row[1]) for row in counts) == {"main_menu": 2, "new_order": 1}
