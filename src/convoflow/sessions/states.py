"""The one contract for live conversation state: load, list, delete, and commit-then-keep.

Two stores sit behind it. The SQL store (``conversation_state``) writes in the caller's
database transaction. The Redis store (``flow_session:{owner}:{customer}``) is outside that
transaction and never sees a database session: the state is written after the commit,
still under the conversation lock, so a failed commit never leaves a state ahead of its
messages. :meth:`ConversationStates.commit` is the only place that knows the difference.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.sessions.base import DueTimer, LiveConversation
from convoflow.sessions.redis_store import RedisSessionStore
from convoflow.sessions.sql_store import SqlSessionStore
from convoflow.store.expiry import cancel_expired_instances, expire_states

__all__ = ["ConversationStates"]


class ConversationStates:
    """Live conversations in the SQL store or the Redis store, behind one interface."""

    def __init__(self, store: SqlSessionStore | RedisSessionStore) -> None:
        self._store = store

    @property
    def backend(self) -> str:
        """``sql`` or ``redis``."""
        return "sql" if isinstance(self._store, SqlSessionStore) else "redis"

    async def load(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str, now: datetime
    ) -> LiveConversation | None:
        """The customer's live conversation, or None when there is none or it expired."""
        if isinstance(self._store, SqlSessionStore):
            return await self._store.load(
                db_session, owner_id=owner_id, customer_key=customer_key, now=now
            )
        return await self._store.load(owner_id=owner_id, customer_key=customer_key, now=now)

    async def list_live(
        self, db_session: AsyncSession, *, owner_id: str, now: datetime
    ) -> list[LiveConversation]:
        """All unexpired conversations of an owner, newest first."""
        if isinstance(self._store, SqlSessionStore):
            return await self._store.list_live(db_session, owner_id=owner_id, now=now)
        return await self._store.list_live(owner_id=owner_id, now=now)

    async def delete(self, db_session: AsyncSession, *, owner_id: str, customer_key: str) -> bool:
        """End the customer's live conversation; True when there was one."""
        if isinstance(self._store, SqlSessionStore):
            return await self._store.delete(
                db_session, owner_id=owner_id, customer_key=customer_key
            )
        return await self._store.delete(owner_id=owner_id, customer_key=customer_key)

    async def due_timers(
        self, db_session: AsyncSession, *, now: datetime, limit: int
    ) -> list[DueTimer]:
        """Up to ``limit`` conversations (of every owner) whose step timer is due at ``now``,
        the longest overdue first.

        Kept in step with :meth:`commit` and :meth:`delete`; may still list a conversation
        that expired meanwhile (the firing finds no live state and calls :meth:`forget_timer`).
        """
        if isinstance(self._store, SqlSessionStore):
            return await self._store.due_timers(db_session, now=now, limit=limit)
        return await self._store.due_timers(now=now, limit=limit)

    async def forget_timer(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> None:
        """Drop a due-timer entry left by a conversation that is no longer live."""
        if isinstance(self._store, SqlSessionStore):
            await self._store.forget_timer(db_session, owner_id=owner_id, customer_key=customer_key)
            return
        await self._store.forget_timer(owner_id=owner_id, customer_key=customer_key)

    async def expire(self, db_session: AsyncSession, now: datetime) -> int:
        """End the conversations expired at ``now``; their unfinished instances are cancelled.

        The same for both stores: the SQL store deletes the rows, the Redis store the
        conversations noted as expiring (Redis drops the keys by itself). Commits.
        """
        if isinstance(self._store, SqlSessionStore):
            count = await expire_states(db_session, now)
            await db_session.commit()
            return count
        expired = await self._store.expired(now)
        await cancel_expired_instances(
            db_session, [c.instance_id for c in expired if c.instance_id], now
        )
        await db_session.commit()
        # Forgotten only once the cancellation is committed: a crash before this line
        # leaves them to the next pass, which cancels nothing twice.
        return await self._store.forget_expired(expired)

    async def preload(
        self, db_session: AsyncSession, customers: list[tuple[str, str]], *, now: datetime
    ) -> list[str]:
        """Read the live conversations of ``customers`` ahead, for a batch handled in one
        transaction (the caller holds their locks); returns their instance ids."""
        if isinstance(self._store, SqlSessionStore):
            return await self._store.preload(db_session, customers)
        return []

    async def commit_many(self, db_session: AsyncSession, lives: list[LiveConversation]) -> None:
        """:meth:`commit` for a batch: every conversation kept, one database commit."""
        if isinstance(self._store, SqlSessionStore):
            for live in lives:
                await self._store.save(db_session, live, flush=False)
            await db_session.commit()
            return
        await db_session.commit()
        for live in lives:
            await self._store.save(live)

    async def commit(self, db_session: AsyncSession, live: LiveConversation | None) -> None:
        """Commit the database transaction and keep ``live`` (None: nothing to keep).

        Call it under the conversation lock, as the last step of a unit of work.
        """
        if isinstance(self._store, SqlSessionStore):
            if live is not None:
                await self._store.save(db_session, live)
            await db_session.commit()
            return
        await db_session.commit()
        if live is not None:
            await self._store.save(live)
