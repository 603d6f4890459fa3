"""Async engine and session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite).

Every database session handed out by :func:`create_db_session_factory` first takes a slot of the
process's :class:`SessionGate`. The gate has fewer slots than the connection pool holds,
so a burst of work (500 customers writing at once) queues at the gate, in arrival order
and without a deadline, instead of draining the pool and failing with SQLAlchemy's
``QueuePool limit ... connection timed out``. That is the message path's back-pressure.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)

from convoflow.errors import InvalidArgument

#: Connections a PostgreSQL pool keeps open; it may open twice as many more under load.
DEFAULT_POOL_SIZE = 10
#: Connections an SQLite pool keeps open (SQLAlchemy's default for a file database).
SQLITE_POOL_SIZE = 5
#: Pool connections left outside the gate: engine-level connections (the sender's
#: autocommit connection, migrations, health checks) take them without queueing.
GATE_RESERVE = 10

# True while the current task holds a gate slot: a session opened inside another session
# (or in a task started from it) reuses that slot instead of waiting for a second one,
# which could otherwise wait forever once every slot is held by such a holder.
_holding_slot: ContextVar[bool] = ContextVar("convoflow_holding_session_slot", default=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the chat and the server read while one writes; foreign keys are off by
    # default on SQLite; busy_timeout makes concurrent writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> AsyncEngine:
    """Build the async engine for ``database_url`` with the right settings per database."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": 30},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE * 2,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping (a round trip on every checkout, on the hot path); connections are
    # recycled instead so a server-side idle timeout never hands us a dead one.
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800
    )


def pool_in_use(engine: AsyncEngine) -> int:
    """How many of the engine's pooled connections are checked out now."""
    pool: Any = engine.sync_engine.pool
    checked_out = getattr(pool, "checkedout", None)
    return int(checked_out()) if callable(checked_out) else 0


def pool_capacity(engine: AsyncEngine) -> int:
    """How many connections the engine's pool may hand out at once."""
    pool: Any = engine.sync_engine.pool
    size: int = pool.size()
    overflow: int = getattr(pool, "_max_overflow", 0)
    return size + max(overflow, 0)


class SessionGate:
    """At most ``slots`` database sessions of this process open at once; others queue."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise InvalidArgument("a database session gate needs at least one slot")
        self.slots = slots
        self.held = 0  # slots taken now (read by the metrics)
        self._semaphore = asyncio.Semaphore(slots)

    @property
    def waiting(self) -> bool:
        """Whether every slot is taken (the next session queues)."""
        return self._semaphore.locked()

    async def enter(self) -> bool:
        """Take a slot unless this task already holds one; True when one was taken."""
        if _holding_slot.get():
            return False
        await self._semaphore.acquire()
        self.held += 1
        _holding_slot.set(True)
        return True

    def leave(self, taken: bool) -> None:
        """Give back the slot :meth:`enter` took."""
        if taken:
            _holding_slot.set(False)
            self.held -= 1
            self._semaphore.release()


class GatedSession(AsyncSession):
    """An :class:`AsyncSession` that holds a :class:`SessionGate` slot while it is open.

    Used as ``async with factory() as db_session`` or ``async with factory.begin() as
    db_session``; a session used without ``async with`` is not counted.
    """

    gate: SessionGate | None = None
    _slot_taken = False

    async def __aenter__(self) -> GatedSession:
        await self._take_slot()
        return self

    async def __aexit__(
        self,
        type_: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            self._give_slot()

    def _maker_context_manager(self) -> Any:
        return _GatedBegin(self)

    async def _take_slot(self) -> None:
        if self.gate is not None and not self._slot_taken:
            self._slot_taken = await self.gate.enter()

    def _give_slot(self) -> None:
        if self.gate is not None and self._slot_taken:
            self._slot_taken = False
            self.gate.leave(True)


class _GatedBegin:
    """``factory.begin()``: a gated session with a transaction that commits on success."""

    __slots__ = ("db_session", "transaction")

    def __init__(self, db_session: GatedSession) -> None:
        self.db_session = db_session
        self.transaction: AsyncSessionTransaction | None = None

    async def __aenter__(self) -> GatedSession:
        await self.db_session._take_slot()
        try:
            self.transaction = self.db_session.begin()
            await self.transaction.__aenter__()
        except BaseException:
            await self.db_session.close()
            self.db_session._give_slot()
            raise
        return self.db_session

    async def __aexit__(
        self,
        type_: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self.transaction is not None:
                await self.transaction.__aexit__(type_, value, traceback)
        finally:
            await self.db_session.__aexit__(type_, value, traceback)


def create_db_session_factory(
    engine: AsyncEngine, *, gate: SessionGate | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit, behind the process's gate.

    Without an explicit ``gate`` one is made with :data:`GATE_RESERVE` fewer slots than
    the pool holds (at least one).
    """
    if gate is None:
        gate = SessionGate(max(1, pool_capacity(engine) - GATE_RESERVE))
    session_class = type("ProcessGatedSession", (GatedSession,), {"gate": gate})
    factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
        engine, class_=session_class, expire_on_commit=False
    )
    return factory


def session_gate(factory: async_sessionmaker[AsyncSession]) -> SessionGate | None:
    """The gate behind a factory made by :func:`create_db_session_factory` (else None)."""
    gate = getattr(factory.class_, "gate", None)
    return gate if isinstance(gate, SessionGate) else None
