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
    customer: str
    due_at: datetime
    timer_id: str | None = None


@dataclass(slots=True)
class LiveConversation:
    """A customer's live conversation: the engine state plus what pins it.

    ``template_id`` is the version the conversation started on (it keeps it until the
    end); ``instance_id`` is its workflow instance.
    """

    owner_id: str
    customer: str
    template_id: str
    instance_id: str | None
    state: ConversationState
    expires_at: datetime
    created_at: datetime
    last_interaction: datetime


class SessionStore(Protocol):
    """Loads and saves live conversations; SQL stores share the caller's transaction."""

    async def load(
        self, session: AsyncSession, *, owner_id: str, customer: str, now: datetime
    ) -> LiveConversation | None:
        """The live conversation, or None when there is none or it expired."""

    async def save(self, session: AsyncSession, conversation: LiveConversation) -> None:
        """Create or replace the customer's live conversation."""

    async def delete(self, session: AsyncSession, *, owner_id: str, customer: str) -> bool:
        """End the customer's live conversation; True when there was one."""

    async def list_live(
        self, session: AsyncSession, *, owner_id: str, now: datetime
    ) -> list[LiveConversation]:
        """All unexpired conversations of an owner, newest first."""

    async def due_timers(
        self, session: AsyncSession, *, now: datetime, limit: int
    ) -> list[DueTimer]:
        """Up to ``limit`` conversations (of every owner) whose timer is due at ``now``.

        Kept in step with ``save`` and ``delete``; may still list a conversation that
        expired meanwhile (the firing finds no live state and calls :meth:`forget_timer`).
        """

    async def forget_timer(self, session: AsyncSession, *, owner_id: str, customer: str) -> None:
        """Drop a due-timer entry left by a conversation that is no longer live."""

    @property
    def transactional(self) -> bool:
        """True when ``save`` writes in the caller's database transaction (SQL).

        A non-transactional store (Redis) is saved after the commit, still under the lock,
        so a failed commit never leaves a state ahead of its messages.
        """


class ConversationLocks(Protocol):
    """Serialises the processing of one customer's messages, across processes."""

    def hold(
        self, session: AsyncSession, *, owner_id: str, customer: str
    ) -> AbstractAsyncContextManager[None]:
        """Hold the lock until the block ends.

        Enter it before the transaction's first statement and commit inside the block:
        PostgreSQL's advisory lock lives until that commit, Redis and in-process locks
        until the block ends.
        """
