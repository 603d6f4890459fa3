"""The session-store port: where a customer is now, and a lock per conversation."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import ConversationState


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A conversation whose waiting step's timer has run out, as a store's index lists it.

    ``timer_id`` is the timer the index saw (None when the index does not keep it); the
    firing re-reads the state under the conversation lock before acting on it.
    """

    owner_id: str
    customer_key: str
    due_at: datetime
    timer_id: str | None = None


@dataclass(slots=True)
class LiveConversation:
    """A customer's live conversation: the engine state plus what pins it.

    ``template_id`` is the version the conversation started on (it keeps it until the
    end); ``instance_id`` is its workflow instance.
    """

    owner_id: str
    customer_key: str
    template_id: str
    instance_id: str | None
    state: ConversationState
    expires_at: datetime
    created_at: datetime
    last_interaction: datetime


class ConversationLocks(Protocol):
    """Serialises the processing of one customer's messages, across processes."""

    def hold(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> AbstractAsyncContextManager[None]:
        """Hold the lock until the block ends.

        Enter it before the transaction's first statement and commit inside the block:
        PostgreSQL's advisory lock lives until that commit, Redis and in-process locks
        until the block ends.
        """
