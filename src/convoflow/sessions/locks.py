"""Per-conversation locks: PostgreSQL advisory locks, Redis locks, in-process locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from convoflow.errors import ConversationBusy

LOCK_EXPIRY_SECONDS = 60.0
LOCK_WAIT_SECONDS = 120.0


def lock_name(owner_id: str, customer_key: str) -> str:
    """The name of a conversation's lock."""
    return f"convoflow:lock:{owner_id}:{customer_key}"


def inbox_lock_name(owner_id: str, customer_key: str) -> str:
    """The name of the lock under which a customer's inbound rows are inserted.

    Distinct from the conversation lock, so a webhook never waits for processing: it only
    orders the inserts of one customer against each other and against the processor's
    look at the customer's head row (see :func:`wait_for_inbox_inserts`).
    """
    return f"convoflow:inbox:{owner_id}:{customer_key}"


_LOCK_ALL = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0))) "
    "FROM unnest(CAST(:names AS text[])) AS name"
)
_WAIT_ALL = text(
    "SELECT count(pg_advisory_xact_lock_shared(hashtextextended(name, 0))) "
    "FROM unnest(CAST(:names AS text[])) AS name"
)
# Evaluated row by row in the given order until ``limit`` locks are taken.
_TRY_ALL = text(
    "SELECT name FROM unnest(CAST(:names AS text[])) AS name "
    "WHERE pg_try_advisory_xact_lock(hashtextextended(name, 0)) LIMIT :limit"
)


async def lock_inbox_inserts(db_session: AsyncSession, customers: list[tuple[str, str]]) -> None:
    """Take the inbox locks of ``customers`` until the commit (PostgreSQL), in one round
    trip and in sorted order, so two batches of inserts never deadlock."""
    names = sorted({inbox_lock_name(owner, key) for owner, key in customers})
    if names:
        await db_session.execute(_LOCK_ALL, {"names": names})


async def wait_for_inbox_inserts(
    connection: AsyncConnection | AsyncSession, customers: list[tuple[str, str]]
) -> None:
    """Wait until no insert of these customers' inbound rows is in flight (PostgreSQL).

    Sequence values are handed out at insert time, but transactions commit in any order: a
    processor could see message 11 committed while message 10 is still in flight. Inserts
    hold the customer's inbox lock until their commit, so once this shared lock was granted
    every row with a smaller id is visible to the next statement. On an autocommit
    connection the shared lock ends with the statement, so no webhook waits for processing.
    """
    names = sorted({inbox_lock_name(owner, key) for owner, key in customers})
    if names:
        await connection.execute(_WAIT_ALL, {"names": names})


async def try_conversation_locks(
    db_session: AsyncSession, customers: list[tuple[str, str]], *, limit: int
) -> set[tuple[str, str]]:
    """Take, without waiting and in the given order, the conversation locks of up to
    ``limit`` of ``customers`` that are free, until the commit (PostgreSQL, one round
    trip); returns the customers locked. Another processor skips them and takes the next."""
    by_name = {lock_name(owner, key): (owner, key) for owner, key in customers}
    if not by_name:
        return set()
    rows = await db_session.execute(_TRY_ALL, {"names": list(by_name), "limit": limit})
    return {by_name[name] for name in rows.scalars()}


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

    async def try_acquire(self, owner_id: str, customer_key: str) -> bool:
        """Take the conversation's lock if it is free, without waiting; release it with
        :meth:`release`."""
        name = lock_name(owner_id, customer_key)
        lock = self._locks.get(name)
        if lock is not None and (lock.locked() or self._users.get(name, 0) > 0):
            return False
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] = self._users.get(name, 0) + 1
        await lock.acquire()  # free and nobody waiting: taken at once
        return True

    def release(self, owner_id: str, customer_key: str) -> None:
        """Give back a lock :meth:`try_acquire` took."""
        name = lock_name(owner_id, customer_key)
        self._locks[name].release()
        self._users[name] -= 1
        if self._users[name] == 0:
            del self._users[name]
            del self._locks[name]

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
