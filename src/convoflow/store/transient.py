"""Which failures are worth retrying: the one place that tells an outage from a bad message.

A *transient* failure says nothing about the work itself: the same statement may succeed
on a later try. Two kinds:

* a service is away (``service`` names it, ``"database"`` or ``"redis"``): connection
  refused, reset or lost, a pool that timed out, a server shutting down or starting up,
  a failover that left us on a read-only standby, too many connections, Redis loading
  or read-only;
* contention (``service`` is None): a deadlock, a serialization failure, a lock or
  statement timeout, a busy SQLite file, a conversation lock that was not free in time
  (:class:`~convoflow.errors.ConversationBusy`).

Everything else (a bug, bad data, a constraint violation) is *permanent* for that piece of
work: :func:`transient_failure` answers None, and the caller records the failure instead of
retrying it for ever.
"""

from __future__ import annotations

import socket
import sqlite3
from dataclasses import dataclass
from types import TracebackType

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from convoflow.errors import ConversationBusy, ServiceUnavailable

__all__ = ["DATABASE", "REDIS", "TransientFailure", "failure_reason", "transient_failure"]

DATABASE = "database"
REDIS = "redis"

#: PostgreSQL SQLSTATEs of a server that is away, going away, or not taking us now.
_UNAVAILABLE_STATES = frozenset(
    {
        "25006",  # read_only_sql_transaction: a failover left us on a standby
        "53300",  # too_many_connections
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "58000",  # system_error
        "58030",  # io_error
    }
)
#: PostgreSQL SQLSTATEs of contention: the same transaction may well succeed next time.
_CONTENTION_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "40003",  # statement_completion_unknown
        "55P03",  # lock_not_available (lock_timeout, NOWAIT)
        "57014",  # query_canceled (statement_timeout)
    }
)
_REDIS_UNAVAILABLE = (
    redis_errors.ConnectionError,  # includes BusyLoadingError (Redis is loading its data)
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a failover left us on a replica
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
)
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
#: Driver packages whose frames tell which service a bare ``OSError`` came from.
_DRIVER_SERVICES = (
    ("asyncpg", DATABASE),
    ("aiosqlite", DATABASE),
    ("sqlalchemy", DATABASE),
    ("redis", REDIS),
)


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """A failure worth retrying: the service that is away (None: contention) and why."""

    service: str | None
    reason: str


def transient_failure(error: BaseException, *, service: str = DATABASE) -> TransientFailure | None:
    """The transient failure ``error`` is, or None when retrying it cannot help.

    ``service`` is the service to blame for a bare connection error (``OSError``) whose
    traceback names no known driver. An exception group is transient when every
    exception in it is (the first one's service and reason are reported).
    """
    if isinstance(error, BaseExceptionGroup):
        found = [transient_failure(member, service=service) for member in error.exceptions]
        if not found or any(failure is None for failure in found):
            return None
        return found[0]
    reason = failure_reason(error)
    if isinstance(error, ConversationBusy):
        return TransientFailure(None, reason)
    if isinstance(error, ServiceUnavailable):
        return TransientFailure(service, reason)
    if isinstance(error, _REDIS_UNAVAILABLE):
        return TransientFailure(REDIS, reason)
    if isinstance(error, sa_errors.DBAPIError):
        return _database_failure(error, reason)
    if isinstance(error, sa_errors.TimeoutError):  # the connection pool had nothing free
        return TransientFailure(DATABASE, reason)
    if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
        return TransientFailure(_driver_of(error.__traceback__) or service, reason)
    return None


def _database_failure(error: sa_errors.DBAPIError, reason: str) -> TransientFailure | None:
    if error.connection_invalidated or isinstance(error, sa_errors.InterfaceError):
        return TransientFailure(DATABASE, reason)
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if isinstance(state, str):
        if state.startswith("08") or state in _UNAVAILABLE_STATES:
            return TransientFailure(DATABASE, reason)
        if state in _CONTENTION_STATES:
            return TransientFailure(None, reason)
        return None
    if isinstance(error.orig, sqlite3.OperationalError) and any(
        busy in str(error.orig).lower() for busy in _SQLITE_BUSY
    ):
        return TransientFailure(None, reason)
    return None


def _driver_of(traceback: TracebackType | None) -> str | None:
    """The service of the innermost known driver frame in ``traceback``, if any."""
    found = None
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        for package, service in _DRIVER_SERVICES:
            if module == package or module.startswith(package + "."):
                found = service
        traceback = traceback.tb_next
    return found


def failure_reason(exc: BaseException) -> str:
    """A short, one-line reason for a failure (the root cause, not the wrappers)."""
    root = _root_cause(exc)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, socket.gaierror):
        return f"cannot resolve the host ({root.strerror})"
    if isinstance(root, TimeoutError) and not str(root):
        return "timed out"
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    lines = str(root).strip().splitlines()
    return lines[0] if lines else type(root).__name__


def _root_cause(exc: BaseException) -> BaseException:
    """Follow the chain Python prints: the explicit cause, else the implicit context."""
    seen = {id(exc)}
    while True:
        nested = exc.__cause__
        if nested is None and not exc.__suppress_context__:
            nested = exc.__context__
        if nested is None or id(nested) in seen:
            return exc
        seen.add(id(nested))
        exc = nested
