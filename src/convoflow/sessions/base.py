"""The session-store port: where a customer is now, and a lock per conversation."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import ConversationState


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
