"""Step timers: find the conversations whose waiting step timed out, and fire each once.

A timer lives with the conversation state (see :mod:`convoflow.sessions`), so it survives
restarts. Firing one takes the conversation lock the message path takes, re-reads the state,
and only if the same timer is still there and due runs the engine with a ``Timeout`` and
persists the turn, timer cleared or re-armed, in one transaction
(:meth:`ConversationService.fire_timer`). Two processes firing the same timer therefore send
its messages once: the second finds the timer gone. A customer message that is stored but
not yet processed goes first: the timer waits, since that answer may clear or restart it.

``now`` is always a parameter, so tests fire timers at a chosen time instead of waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.services.conversations.customers import customer_of
from convoflow.services.conversations.service import ConversationService, TurnResult
from convoflow.sessions.base import ConversationLocks, DueTimer
from convoflow.store.models import WhatsAppMessage

__all__ = ["DUE_TIMERS_BATCH", "FiredTimer", "StepTimers"]

logger = logging.getLogger(__name__)

#: How many due timers one look at the index returns.
DUE_TIMERS_BATCH = 500


@dataclass(frozen=True, slots=True)
class FiredTimer:
    """A timer that ran out: whose it was and what the conversation did."""

    owner_id: str
    customer_key: str
    turn: TurnResult


class StepTimers:
    """Lists due step timers and fires them, each under its conversation's lock."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        locks: ConversationLocks,
        conversations: ConversationService,
    ) -> None:
        self.db_sessions = db_sessions
        self.locks = locks
        self.conversations = conversations

    async def due(self, *, now: datetime, limit: int = DUE_TIMERS_BATCH) -> list[DueTimer]:
        """Conversations whose timer is due at ``now``, the longest overdue first."""
        async with self.db_sessions() as db_session:
            return await self.conversations.store.due_timers(db_session, now=now, limit=limit)

    async def fire(
        self, owner_id: str, customer_key: str, *, now: datetime, timer_id: str | None = None
    ) -> TurnResult | None:
        """Fire the conversation's timer if it is (still) due at ``now``; None: nothing to do.

        ``timer_id`` restricts the firing to the timer a listing saw. Nothing fires while
        the customer has a message waiting to be processed (the next pass looks again).
        """
        states = self.conversations.store
        async with self.db_sessions() as db_session:
            async with self.locks.hold(db_session, owner_id=owner_id, customer_key=customer_key):
                if await _message_waiting(db_session, owner_id, customer_key):
                    await db_session.rollback()
                    return None
                who = await customer_of(db_session, owner_id, customer_key)
                fired = await self.conversations.fire_timer(
                    db_session, who, now=now, timer_id=timer_id
                )
                if fired is None:
                    await db_session.rollback()
                    return None
                turn, live = fired
                await states.commit(db_session, live)
        return turn

    async def fire_due(self, *, now: datetime, limit: int = DUE_TIMERS_BATCH) -> list[FiredTimer]:
        """Fire every timer due at ``now`` (up to ``limit``), one conversation at a time.

        A conversation that fails is logged and left for the next pass, so one bad
        conversation never holds back the others.
        """
        fired: list[FiredTimer] = []
        for due in await self.due(now=now, limit=limit):
            try:
                turn = await self.fire(
                    due.owner_id, due.customer_key, now=now, timer_id=due.timer_id
                )
            except Exception:
                logger.exception("firing the timer of %s failed", due.customer_key)
                continue
            if turn is not None:
                fired.append(FiredTimer(due.owner_id, due.customer_key, turn))
        return fired


async def _message_waiting(db_session: AsyncSession, owner_id: str, customer_key: str) -> bool:
    """Whether the customer wrote something the message processor has not handled yet."""
    pending = await db_session.scalar(
        select(WhatsAppMessage.id)
        .where(
            WhatsAppMessage.owner_id == owner_id,
            WhatsAppMessage.customer_key == customer_key,
            WhatsAppMessage.direction == "in",
            WhatsAppMessage.status == "received",
        )
        .limit(1)
    )
    return pending is not None
