"""Running effects at once for the local channels (the terminal chat, the simulator).

A WhatsApp customer's effects run as jobs and their results reach the customer through
the outbox. A local customer waits for the answer of the message just typed, so
:class:`EffectsNow` runs the effects of that turn in the caller's task, one after another,
and then the effects their results lead to (a model turn after the held messages, the end
action after a confirmation), until none is left. The runner's claim still decides who
runs an effect, so a job or the sweeper that got there first is simply waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.jobs.effects import EffectRunner
from convoflow.services.workflows.effect_types import FedBack
from convoflow.services.workflows.instances import pending_effects
from convoflow.store.models import WorkflowEffect

__all__ = ["EffectsNow"]

#: How often an effect another runner holds (or one waiting for a retry) is looked at again.
POLL_SECONDS = 0.2
_FINISHED = frozenset({"done", "failed"})


class EffectsNow:
    """The ``effects_now`` port of the local channels (see the module docstring)."""

    def __init__(
        self,
        *,
        runner: EffectRunner,
        db_sessions: async_sessionmaker[AsyncSession],
        clock: Clock = SystemClock(),
    ) -> None:
        self.runner = runner
        self.db_sessions = db_sessions
        self.clock = clock

    async def settle(self, instance_ids: Iterable[str]) -> None:
        """Run these instances' new effects and what follows them, until none is left."""
        todo = set(instance_ids)
        while todo:
            async with self.db_sessions() as db_session:
                effect_ids = await pending_effects(db_session, todo)
            todo = set()
            for effect_id in effect_ids:
                fed_back = await self._run_to_end(effect_id)
                if fed_back is not None:
                    todo.update(fed_back.instance_ids)

    async def _run_to_end(self, effect_id: str) -> FedBack | None:
        """Attempt the effect until it is finished; what its result changed (None when
        another runner finished it)."""
        while True:
            fed_back = await self.runner.run(effect_id)
            if fed_back is not None:
                return fed_back
            async with self.db_sessions() as db_session:
                row = (
                    await db_session.execute(
                        select(WorkflowEffect.status, WorkflowEffect.next_attempt_at).where(
                            WorkflowEffect.id == effect_id
                        )
                    )
                ).first()
            if row is None or row.status in _FINISHED:
                return None
            # A retry later, or another runner holding it: look again when it is due.
            due_in = (row.next_attempt_at - self.clock.now()).total_seconds()
            await asyncio.sleep(min(max(due_in, 0.0), POLL_SECONDS) or POLL_SECONDS / 4)
