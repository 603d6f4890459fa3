"""Whether this process can reach its database and Redis: short probes with a time limit.

The commands refuse to start when a service they need does not answer (one line naming
the setting, see :func:`require_services`); ``GET /readyz`` runs the same probes on every
call (see :func:`probe_services`), so a server reports an outage while it lasts and is
ready again as soon as the service is back, without a restart.

Webhooks are stored in the database, so only the database decides readiness; Redis carries
the job queue and locks, and its outage is reported without turning the server away.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from convoflow.errors import SettingsError
from convoflow.settings import Settings
from convoflow.store.database import create_engine
from convoflow.store.transient import failure_reason

__all__ = [
    "START_TIMEOUT_SECONDS",
    "ServiceReport",
    "database_problem",
    "failure_reason",
    "probe_services",
    "redis_problem",
    "require_services",
    "without_credentials",
]

START_TIMEOUT_SECONDS = 10.0
"""How long a command waits at start-up for each service before giving up."""


async def database_problem(engine: AsyncEngine, *, within: float) -> str | None:
    """None when the database answers ``SELECT 1`` ``within`` seconds, else why not."""
    try:
        async with asyncio.timeout(within):
            await _select_one(engine)
    except TimeoutError:
        return _no_answer(within)
    except Exception as exc:  # whatever the driver raised, the reason is what matters
        return failure_reason(exc)
    return None


async def _select_one(engine: AsyncEngine) -> None:
    try:
        await _query(engine)
        return
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    # A pooled connection died while the database was away; the pool has now dropped
    # every connection that old, so a second try tells whether the database is back.
    # (Outside the handler, so its failure is not chained to the stale one's.)
    await _query(engine)


async def _query(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def redis_problem(redis_url: str, *, within: float) -> str | None:
    """None when Redis answers ``PING`` ``within`` seconds, else why not.

    A client of its own, without retries, so an outage is reported at once rather than
    after the backoff the job queue's client goes through.
    """
    client = Redis.from_url(redis_url, retry=Retry(NoBackoff(), 0))
    try:
        async with asyncio.timeout(within):
            await client.ping()
    except TimeoutError:
        return _no_answer(within)
    except Exception as exc:  # whatever the client raised, the reason is what matters
        return failure_reason(exc)
    finally:
        await client.aclose()
    return None


def _no_answer(within: float) -> str:
    return f"no answer within {within:g} s"


def without_credentials(url: str) -> str:
    """``url`` with any user and password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """What the probes found: a problem per service, None when it answered."""

    database: str | None
    redis: str | None
    redis_configured: bool

    @property
    def ready(self) -> bool:
        """True when webhooks can be stored (the database answers)."""
        return self.database is None

    @property
    def status(self) -> str:
        """``ok``, ``degraded`` (Redis is down) or ``unavailable`` (the database is down)."""
        if not self.ready:
            return "unavailable"
        return "degraded" if self.redis is not None else "ok"

    def as_json(self) -> dict[str, Any]:
        """The ``/readyz`` body: overall status, ``up``/``down`` per service, and why."""
        checks = {"database": "down" if self.database else "up"}
        checks["redis"] = (
            ("down" if self.redis else "up") if self.redis_configured else "not configured"
        )
        errors = {
            name: problem
            for name, problem in (("database", self.database), ("redis", self.redis))
            if problem is not None
        }
        return {"status": self.status, "checks": checks, "errors": errors}


async def probe_services(
    engine: AsyncEngine, redis_url: str | None, *, within: float
) -> ServiceReport:
    """Probe the database (through ``engine``'s pool) and Redis at once, each bounded."""
    if redis_url is None:
        return ServiceReport(await database_problem(engine, within=within), None, False)
    database, redis = await asyncio.gather(
        database_problem(engine, within=within), redis_problem(redis_url, within=within)
    )
    return ServiceReport(database, redis, True)


async def require_services(
    settings: Settings, *, redis: bool, within: float = START_TIMEOUT_SECONDS
) -> None:
    """Raise :class:`SettingsError` naming the first setting whose service does not answer.

    Redis (when ``redis`` and configured) is probed before the database, because opening a
    SQLite database creates its file: a refused start leaves nothing behind.
    """
    if redis and settings.redis_url:
        problem = await redis_problem(settings.redis_url, within=within)
        if problem is not None:
            raise _unreachable("CONVOFLOW_REDIS_URL", settings.redis_url, problem)
    if settings.is_postgres:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            problem = await database_problem(engine, within=within)
        finally:
            await engine.dispose()
    else:
        problem = await asyncio.to_thread(_sqlite_problem, settings.database_url)
    if problem is not None:
        raise _unreachable("CONVOFLOW_DATABASE_URL", settings.database_url, problem)


def _sqlite_problem(database_url: str) -> str | None:
    """None when the SQLite file opens, else why not.

    Opened with the standard driver: aiosqlite's worker thread outlives a failed open and
    prints a traceback once the command's event loop has closed.
    """
    url = make_url(database_url).set(drivername="sqlite")
    engine = create_sync_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the driver raised, the reason is what matters
        return failure_reason(exc)
    finally:
        engine.dispose()
    return None


def _unreachable(setting: str, url: str, problem: str) -> SettingsError:
    return SettingsError(f"{setting}: cannot connect to {without_credentials(url)}: {problem}")
