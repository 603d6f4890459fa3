"""Both session stores keep one live conversation per customer and forget expired ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError

from convoflow.engine.outcome import ConversationState, Timer
from convoflow.runtime import Runtime
from convoflow.sessions.base import LiveConversation
from convoflow.sessions.redis_store import RedisSessionStore, session_key
from convoflow.sessions.sql_store import SqlSessionStore
from convoflow.sessions.states import ConversationStates
from convoflow.store import accounts, templates
from convoflow.store.models import User
from convoflow.store.types import utcnow


async def owner_and_template(runtime: Runtime) -> tuple[str, str]:
    async with runtime.db_sessions.begin() as db_session:
        owner = await accounts.create_user(db_session, username="owner")
        row = await templates.create_template(
            db_session,
            owner_id=owner.id,
            definition={
                "template_name": "menu",
                "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end"}]},
            },
        )
        return owner.id, row.id


def conversation(
    owner_id: str, template_id: str, customer_key: str, now: datetime, ttl: int
) -> LiveConversation:
    return LiveConversation(
        owner_id=owner_id,
        customer_key=customer_key,
        template_id=template_id,
        instance_id=None,
        state=ConversationState(template_name="menu", current_step="a", variables={"n": 1}),
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
        last_interaction=now,
    )


@pytest.fixture(params=["sql", "redis"])
async def states(request: pytest.FixtureRequest) -> AsyncIterator[ConversationStates]:
    if request.param == "sql":
        yield ConversationStates(SqlSessionStore())
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    await client.flushdb()
    yield ConversationStates(RedisSessionStore(client))
    await client.flushdb()
    await client.aclose()


async def test_save_load_replace_and_delete(runtime: Runtime, states: ConversationStates) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    now = utcnow()
    async with runtime.db_sessions() as db_session:
        await states.commit(db_session, conversation(owner_id, template_id, "111", now, 600))
    async with runtime.db_sessions() as db_session:
        await states.commit(db_session, conversation(owner_id, template_id, "222", now, 600))
    async with runtime.db_sessions() as db_session:
        changed = conversation(owner_id, template_id, "111", now, 600)
        changed.state.variables = {"n": 2}
        await states.commit(db_session, changed)
    async with runtime.db_sessions() as db_session:
        first = await states.load(db_session, owner_id=owner_id, customer_key="111", now=now)
        second = await states.load(db_session, owner_id=owner_id, customer_key="222", now=now)
        live = await states.list_live(db_session, owner_id=owner_id, now=now)
    assert first is not None and first.state.variables == {"n": 2}
    assert second is not None and second.state.variables == {"n": 1}
    assert {c.customer_key for c in live} == {"111", "222"}
    async with runtime.db_sessions.begin() as db_session:
        assert await states.delete(db_session, owner_id=owner_id, customer_key="111") is True
        assert await states.delete(db_session, owner_id=owner_id, customer_key="111") is False
    async with runtime.db_sessions() as db_session:
        assert await states.load(db_session, owner_id=owner_id, customer_key="111", now=now) is None


async def test_expired_conversation_is_ignored(
    runtime: Runtime, states: ConversationStates
) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    now = utcnow()
    async with runtime.db_sessions() as db_session:
        await states.commit(db_session, conversation(owner_id, template_id, "333", now, 60))
    later = now + timedelta(seconds=61)
    async with runtime.db_sessions() as db_session:
        assert (
            await states.load(db_session, owner_id=owner_id, customer_key="333", now=later) is None
        )
        assert await states.list_live(db_session, owner_id=owner_id, now=later) == []


async def test_a_failed_commit_keeps_no_state(runtime: Runtime, states: ConversationStates) -> None:
    """Commit first, keep the state second: a commit that fails leaves no state behind."""
    owner_id, template_id = await owner_and_template(runtime)
    now = utcnow()
    async with runtime.db_sessions() as db_session:
        # A duplicate primary key makes the commit's flush fail.
        db_session.add(User(id=owner_id, username=f"dup-{owner_id}", display_name=""))
        with pytest.raises(IntegrityError):
            await states.commit(db_session, conversation(owner_id, template_id, "555", now, 600))
    async with runtime.db_sessions() as db_session:
        assert await states.load(db_session, owner_id=owner_id, customer_key="555", now=now) is None


def timed(
    owner_id: str, template_id: str, customer_key: str, now: datetime, due_in: timedelta | None
) -> LiveConversation:
    """A conversation waiting at step `a`, with a timer due ``due_in`` from now (or none)."""
    live = conversation(owner_id, template_id, customer_key, now, 86_400)
    if due_in is not None:
        live.state.timer = Timer("a", now + due_in)
    return live


async def due_at(
    runtime: Runtime, states: ConversationStates, now: datetime
) -> list[tuple[str, datetime]]:
    async with runtime.db_sessions() as db_session:
        return [
            (due.customer_key, due.due_at)
            for due in await states.due_timers(db_session, now=now, limit=100)
        ]


async def test_due_timers_follow_the_saved_state(
    runtime: Runtime, states: ConversationStates
) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    now = utcnow().replace(microsecond=0)
    for customer_key, due_in in (
        ("a30", timedelta(minutes=30)),
        ("b10", timedelta(minutes=10)),
        ("none", None),
    ):
        async with runtime.db_sessions() as db_session:
            await states.commit(db_session, timed(owner_id, template_id, customer_key, now, due_in))

    assert await due_at(runtime, states, now) == []
    assert await due_at(runtime, states, now + timedelta(minutes=15)) == [
        ("b10", now + timedelta(minutes=10))
    ]
    assert await due_at(runtime, states, now + timedelta(minutes=31)) == [
        ("b10", now + timedelta(minutes=10)),
        ("a30", now + timedelta(minutes=30)),
    ]
    async with runtime.db_sessions() as db_session:  # a30 answered; b10 ended
        await states.delete(db_session, owner_id=owner_id, customer_key="b10")
        await states.commit(db_session, timed(owner_id, template_id, "a30", now, None))
    assert await due_at(runtime, states, now + timedelta(days=1) - timedelta(seconds=1)) == []


async def test_sql_due_timers_name_the_timer_they_saw(runtime: Runtime) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    states, now = ConversationStates(SqlSessionStore()), utcnow()
    live = timed(owner_id, template_id, "555", now, timedelta(seconds=30))
    async with runtime.db_sessions() as db_session:
        await states.commit(db_session, live)
    async with runtime.db_sessions() as db_session:
        [due] = await states.due_timers(db_session, now=now + timedelta(minutes=1), limit=10)
    assert live.state.timer is not None and due.timer_id == live.state.timer.id


async def test_timers_of_expired_conversations_never_come_back(
    runtime: Runtime, states: ConversationStates
) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    now = utcnow()
    live = timed(owner_id, template_id, "666", now, timedelta(minutes=5))
    live.expires_at = now + timedelta(minutes=1)
    async with runtime.db_sessions() as db_session:
        await states.commit(db_session, live)
    later = now + timedelta(minutes=6)
    async with runtime.db_sessions() as db_session:
        assert (
            await states.load(db_session, owner_id=owner_id, customer_key="666", now=later) is None
        )
        # The firing does this for whatever the index still lists.
        for due in await states.due_timers(db_session, now=later, limit=10):
            await states.forget_timer(
                db_session, owner_id=due.owner_id, customer_key=due.customer_key
            )
    assert await due_at(runtime, states, later) == []


async def test_redis_key_expires_with_the_session_ttl(
    runtime: Runtime, redis_client: Redis
) -> None:
    owner_id, template_id = await owner_and_template(runtime)
    store = RedisSessionStore(redis_client)
    now = utcnow()
    await store.save(conversation(owner_id, template_id, "444", now, 86_400))
    ttl = await redis_client.ttl(session_key(owner_id, "444"))
    assert 86_000 < ttl <= 86_400
