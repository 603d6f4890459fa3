"""Per-conversation locks: PostgreSQL advisory locks, Redis locks, in-process locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import ConversationBusy

LOCK_EXPIRY_SECONDS = 60.0
LOCK_WAIT_SECONDS = 120.0


def lock_name(owner_id: str, customer_key: str) -> str:
    """The name of a conversation's lock."""
    return f"convoflow:lock:{owner_id}:{customer_key}"


async def advisory_lock(db_session: AsyncSession, *, owner_id: str, customer_key: str) -> None:
    """Take the conversation's transaction-scoped advisory lock (PostgreSQL only)."""
    await db_session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
        {"name": lock_name(owner_id, customer_key)},
    )


class PostgresAdvisoryLocks:
    """A transaction-scoped advisory lock: held until the caller's commit or rollback.

    Works across any number of processes on the same database, and needs no row to exist
    yet (a customer's first message has no state row to lock).
    """

    @asynccontextmanager
    async def hold(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> AsyncIterator[None]:
        """Take the lock in the session's (auto-begun) transaction."""
        await advisory_lock(db_session, owner_id=owner_id, customer_key=customer_key)
        yield


class RedisLocks:
    """A Redis lock with an expiry and an owner token (a crashed holder cannot block forever)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @asynccontextmanager
    async def hold(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> AsyncIterator[None]:
        """Acquire before the block, release (only if still ours) after it."""
        lock = self._redis.lock(
            lock_name(owner_id, customer_key),
            timeout=LOCK_EXPIRY_SECONDS,
            blocking_timeout=LOCK_WAIT_SECONDS,
        )
        if not await lock.acquire():
            raise ConversationBusy(f"could not lock the conversation of {customer_key}")
        try:
            yield
        finally:
            if await lock.owned():
                await lock.release()


class InProcessLocks:
    """asyncio locks for the embedded default (one process on SQLite)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> AsyncIterator[None]:
        """Serialise the block per conversation within this process."""
        name = lock_name(owner_id, customer_key)
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] = self._users.get(name, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[name] -= 1
            if self._users[name] == 0:
                del self._users[name]
                del self._locks[name]
