"""The statistics aggregator: counts leave the message transaction, add up in memory or
Redis, and land in one flush with none lost, whatever runs concurrently."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from convoflow.runtime import Runtime
from convoflow.services.templates.aggregator import StatsAggregator
from convoflow.services.templates.redis_counts import RedisCounts
from convoflow.services.templates.tallies import count_run_finished, count_run_started, count_steps
from convoflow.store.models import (
    StepEdgeCount,
    StepVisitCount,
    TemplateDayCount,
    User,
    WorkflowTemplate,
)

WORKERS, TURNS = 12, 15


async def support_and_admin(runtime: Runtime) -> tuple[str, str]:
    async with runtime.db_sessions() as db_session:
        template_id = await db_session.scalar(
            select(WorkflowTemplate.id).where(
                WorkflowTemplate.template_name == "support", WorkflowTemplate.is_latest
            )
        )
        owner_id = await db_session.scalar(select(User.id).where(User.username == "admin"))
    assert template_id is not None and owner_id is not None
    return template_id, owner_id


async def one_turn(runtime: Runtime, template_id: str, owner_id: str, *, commit: bool) -> None:
    """What a run's first message counts: a start, two steps and an edge, a success."""
    now = runtime.clock.now()
    async with runtime.db_sessions() as db_session:
        await db_session.begin()
        await db_session.execute(select(1))
        await count_run_started(
            db_session, template_id=template_id, owner_id=owner_id, response_time_ms=40.0, now=now
        )
        count_steps(
            db_session,
            template_id=template_id,
            owner_id=owner_id,
            previous=None,
            visited=["topics", "human"],
            now=now,
        )
        await count_run_finished(db_session, template_id=template_id, succeeded=True)
        if commit:
            await db_session.commit()
        else:
            await db_session.rollback()


async def totals(runtime: Runtime, template_id: str) -> dict[str, object]:
    async with runtime.db_sessions() as db_session:
        row = await db_session.get(WorkflowTemplate, template_id)
        assert row is not None
        await db_session.refresh(row)
        visits = dict(
            (
                await db_session.execute(
                    select(StepVisitCount.step_id, func.sum(StepVisitCount.visits)).group_by(
                        StepVisitCount.step_id
                    )
                )
            ).all()
        )
        edges = await db_session.scalar(select(func.sum(StepEdgeCount.count)))
        started = await db_session.scalar(select(func.sum(TemplateDayCount.started)))
        return {
            "uses": row.usage_count,
            "successes": row.success_count,
            "rate": row.success_rate,
            "avg_ms": row.avg_response_time_ms,
            "last_used": row.last_used_at is not None,
            "visits": visits,
            "edges": edges,
            "started": started,
        }


async def test_counts_wait_for_the_flush_and_rolled_back_ones_never_count(
    seeded: Runtime,
) -> None:
    template_id, owner_id = await support_and_admin(seeded)
    await one_turn(seeded, template_id, owner_id, commit=True)
    await one_turn(seeded, template_id, owner_id, commit=False)
    await seeded.statistics.flush()
    assert await totals(seeded, template_id) == {
        "uses": 1,
        "successes": 1,
        "rate": 1.0,
        "avg_ms": 40.0,
        "last_used": True,
        "visits": {"topics": 1, "human": 1},
        "edges": 1,
        "started": 1,
    }
    await seeded.statistics.flush()  # nothing left: nothing counted twice
    assert (await totals(seeded, template_id))["uses"] == 1
    async with seeded.db_sessions() as db_session:
        [day] = (await db_session.scalars(select(TemplateDayCount))).all()
    assert (day.owner_id, day.day, day.timed_starts) == (owner_id, seeded.clock.now().date(), 1)
    assert isinstance(day.day, date)


async def test_concurrent_runs_and_flushes_lose_no_increment(seeded: Runtime) -> None:
    template_id, owner_id = await support_and_admin(seeded)
    # With Redis, a second aggregator stands for another process flushing the same counts.
    others = (
        [StatsAggregator(seeded.db_sessions, RedisCounts(seeded.redis))]
        if seeded.redis is not None
        else []
    )
    done = asyncio.Event()

    async def worker() -> None:
        for _ in range(TURNS):
            await one_turn(seeded, template_id, owner_id, commit=True)

    async def flusher(aggregator: StatsAggregator) -> None:
        while not done.is_set():
            await aggregator.flush()
            await asyncio.sleep(0)

    flushers = [asyncio.create_task(flusher(a)) for a in [seeded.statistics, *others]]
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    done.set()
    await asyncio.gather(*flushers)
    await seeded.statistics.flush()
    runs = WORKERS * TURNS
    counted = await totals(seeded, template_id)
    assert counted["uses"] == runs and counted["successes"] == runs
    assert counted["visits"] == {"topics": runs, "human": runs}
    assert (counted["edges"], counted["started"]) == (runs, runs)
    assert counted["avg_ms"] == 40.0


async def test_a_failed_write_keeps_the_counts_for_the_next_flush(seeded: Runtime) -> None:
    template_id, owner_id = await support_and_admin(seeded)
    await one_turn(seeded, template_id, owner_id, commit=True)
    broken = StatsAggregator(seeded.db_sessions, seeded.statistics.pending)

    async def refuse(_counts: object) -> None:
        raise ConnectionRefusedError("database away")

    broken._write = refuse  # type: ignore[assignment,method-assign]
    try:
        await broken.flush()
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("the write should have failed")
    await seeded.statistics.flush()
    assert (await totals(seeded, template_id))["uses"] == 1
