"""Running effects at once for the local channels (the terminal chat, the simulator).

A WhatsApp customer's effects run as jobs and their results reach the customer through
the outbox. A local customer waits for the answer of the message just typed, so
:class:`EffectsNow` runs the effects the conversation waits for (a model turn, an ``http``
step) in the caller's task, then the ones their results lead to (the next model turn for
held messages), until none is left. The runner's claim still decides who runs an effect,
so a job that got there first is simply waited for.

What the conversation does not wait for (an end action, a workflow dependency) is left to
the background jobs, as is a retry after a failed attempt: nobody should sit in front of a
chat while an outside system is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.jobs.effects import CLAIM_SECONDS, EffectRunner
from convoflow.services.workflows.effect_types import FedBack
from convoflow.store.models import WorkflowEffect

__all__ = ["RESUMING_KINDS", "EffectsNow"]

#: The effect kinds whose result the conversation waits for (it resumes on them).
RESUMING_KINDS = ("llm", "http")
#: How often an effect another runner holds is looked at again.
POLL_SECONDS = 0.1


class EffectsNow:
    """The ``effects_now`` port of the local channels (see the module docstring)."""

    def __init__(
        self, *, runner: EffectRunner, db_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.runner = runner
        self.db_sessions = db_sessions

    async def settle(self, instance_ids: Iterable[str]) -> None:
        """Run these instances' new effects that the conversation waits for, and what
        follows them, until none is left."""
        todo = set(instance_ids)
        while todo:
            effect_ids = await self._awaited(todo)
            todo = set()
            for effect_id in effect_ids:
                fed_back = await self._run_to_end(effect_id)
                if fed_back is not None:
                    todo.update(fed_back.instance_ids)

    async def _awaited(self, instance_ids: set[str]) -> list[str]:
        """The instances' effects never attempted yet that the conversation waits for."""
        row = WorkflowEffect
        async with self.db_sessions() as db_session:
            found = await db_session.scalars(
                select(row.id)
                .where(
                    row.instance_id.in_(sorted(instance_ids)),
                    row.status == "pending",
                    row.attempts == 0,
                    row.kind.in_(RESUMING_KINDS),
                )
                .order_by(row.id)
            )
            return list(found)

    async def _run_to_end(self, effect_id: str) -> FedBack | None:
        """Attempt the effect; what its result changed. None when it waits for a retry
        (the background jobs take it) or another runner finished it."""
        # A runner that died holds the row until its lease lapses; never wait longer.
        give_up_at = time.monotonic() + CLAIM_SECONDS
        while True:
            fed_back = await self.runner.run(effect_id)
            if fed_back is not None:
                return fed_back
            async with self.db_sessions() as db_session:
                row = (
                    await db_session.execute(
                        select(WorkflowEffect.status, WorkflowEffect.attempts).where(
                            WorkflowEffect.id == effect_id
                        )
                    )
                ).first()
            if row is None or row.status in ("done", "failed"):
                return None
            if row.status == "pending" and row.attempts > 0:
                return None  # a retry later: left to the jobs and the sweeper
            if time.monotonic() > give_up_at:
                return None
            await asyncio.sleep(POLL_SECONDS)  # another runner has it: wait for its result
