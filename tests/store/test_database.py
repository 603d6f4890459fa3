"""The session gate: bursts queue for a slot instead of draining the connection pool."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from convoflow.store.database import SessionGate, create_db_session_factory, pool_capacity


async def test_a_burst_larger_than_the_pool_queues_at_the_gate_and_never_times_out(
    pg_url: str,
) -> None:
    # A pool of 2 that gives up after 0.5 s: without the gate, 200 concurrent sessions
    # holding their connection across a sleep fail with "QueuePool limit ... timed out".
    engine = create_async_engine(pg_url, pool_size=2, max_overflow=0, pool_timeout=0.5)
    gate = SessionGate(2)
    db_sessions = create_db_session_factory(engine, gate=gate)
    open_now = 0
    most_open = 0

    async def work(number: int) -> int:
        nonlocal open_now, most_open
        async with db_sessions.begin() as db_session:
            open_now += 1
            most_open = max(most_open, open_now)
            await db_session.execute(text("SELECT pg_sleep(0.002)"))
            value = (
                await db_session.execute(text("SELECT CAST(:n AS text)"), {"n": str(number)})
            ).scalar_one()
            open_now -= 1
            return int(value)

    try:
        results = await asyncio.gather(*(work(n) for n in range(200)))
    finally:
        await engine.dispose()
    assert results == list(range(200))
    assert most_open == 2


async def test_a_session_opened_inside_another_reuses_its_slot(sqlite_url: str) -> None:
    engine = create_async_engine(sqlite_url)
    db_sessions = create_db_session_factory(engine, gate=SessionGate(1))
    try:
        async with db_sessions() as outer:
            await outer.execute(text("SELECT 1"))
            # With one slot, waiting for a second one here would never end.
            async with db_sessions.begin() as inner:
                assert (await inner.execute(text("SELECT 2"))).scalar_one() == 2
        async with db_sessions() as again:  # the slot was given back
            assert (await again.execute(text("SELECT 3"))).scalar_one() == 3
    finally:
        await engine.dispose()


async def test_a_failed_transaction_gives_its_slot_back(sqlite_url: str) -> None:
    engine = create_async_engine(sqlite_url)
    db_sessions = create_db_session_factory(engine, gate=SessionGate(1))
    try:
        for _ in range(3):
            try:
                async with db_sessions.begin() as db_session:
                    await db_session.execute(text("SELECT * FROM no_such_table"))
            except Exception as exc:  # the database's own error, whatever its driver class
                assert "no_such_table" in str(exc)
        async with db_sessions() as db_session:
            assert (await db_session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


def test_the_default_gate_leaves_part_of_the_pool_outside_it(pg_url: str) -> None:
    engine = create_async_engine(pg_url, pool_size=10, max_overflow=20)
    db_sessions = create_db_session_factory(engine)
    gate = db_sessions.class_.gate  # type: ignore[attr-defined]
    assert pool_capacity(engine) == 30
    assert isinstance(gate, SessionGate)
    assert 1 <= gate.slots < 30
