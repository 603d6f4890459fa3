"""Outages in the log: one line when a service goes away, a summary while it stays away,
one line when it is back, instead of a traceback per failed attempt.

Every part of a process that talks to the database or Redis (the webhook, the job
receiver, the sweeper, the jobs) reports its failures to the process's :class:`Outages`, so
a database restart reads, whoever noticed it::

    WARNING outage: database unreachable (connection refused); retrying with backoff
    WARNING outage: database still down after 30 s, 412 failed attempts (connection refused)
    WARNING outage over: database back after 47 s, 530 failed attempts

Loops that retry on their own wait :func:`retry_delay` between attempts: doubling from
``base`` up to ``cap`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from convoflow.clock import Clock, SystemClock
from convoflow.store.transient import DATABASE, transient_failure

__all__ = ["SUMMARY_SECONDS", "OutageLog", "Outages", "Pause", "retry_delay"]

logger = logging.getLogger(__name__)

#: How often an outage that lasts is summarised in the log.
SUMMARY_SECONDS = 30.0

#: Waits ``seconds`` (a loop's pause between attempts; tests hand in one that moves a clock).
Pause = Callable[[float], Awaitable[None]]


def retry_delay(failures: int, *, base: float = 0.5, cap: float = 10.0) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling, capped."""
    return float(min(cap, base * 2 ** max(failures - 1, 0)))


class OutageLog:
    """The log of one service's outages, as this process sees them (time from ``clock``)."""

    def __init__(
        self,
        service: str,
        *,
        clock: Clock | None = None,
        summary_seconds: float = SUMMARY_SECONDS,
        log: logging.Logger = logger,
    ) -> None:
        self.service = service
        self.clock = clock or SystemClock()
        self.summary_seconds = summary_seconds
        self.log = log
        self.failures = 0
        self._started = 0.0
        self._summarised = 0.0

    @property
    def down(self) -> bool:
        """Whether the service is away (a failure was reported, no success since)."""
        return self.failures > 0

    def failed(self, reason: str) -> None:
        """An attempt failed: log the start of an outage, or a summary when one is due."""
        now = self.clock.monotonic()
        self.failures += 1
        if self.failures == 1:
            self._started = self._summarised = now
            self.log.warning(
                "outage: %s unreachable (%s); retrying with backoff", self.service, reason
            )
        elif now - self._summarised >= self.summary_seconds:
            self._summarised = now
            self.log.warning(
                "outage: %s still down after %.0f s, %d failed attempts (%s)",
                self.service,
                now - self._started,
                self.failures,
                reason,
            )

    def recovered(self) -> None:
        """An attempt worked: log the end of the outage, if there was one."""
        if not self.down:
            return
        self.log.warning(
            "outage over: %s back after %.0f s, %d failed attempts",
            self.service,
            self.clock.monotonic() - self._started,
            self.failures,
        )
        self.failures = 0


class Outages:
    """One :class:`OutageLog` per service, shared by every part of a process."""

    def __init__(self, *, clock: Clock | None = None, summary_seconds: float = SUMMARY_SECONDS):
        self.clock = clock or SystemClock()
        self.summary_seconds = summary_seconds
        self._logs: dict[str, OutageLog] = {}

    def of(self, service: str) -> OutageLog:
        """The outage log of ``service`` (``"database"``, ``"redis"``)."""
        log = self._logs.get(service)
        if log is None:
            log = OutageLog(service, clock=self.clock, summary_seconds=self.summary_seconds)
            self._logs[service] = log
        return log

    def recovered(self, service: str) -> None:
        """``service`` answered: end its outage, if there was one."""
        log = self._logs.get(service)
        if log is not None:
            log.recovered()

    def absorb(self, error: BaseException, *, what: str, service: str = DATABASE) -> bool:
        """Log ``error`` as part of an outage (or as contention) when it is transient.

        True when it was: the caller drops it, the work is durable and is retried.
        False for anything else, which the caller handles as a real error. ``what`` says
        what failed (for contention, logged at INFO); ``service`` is blamed for a bare
        connection error whose traceback names no driver.
        """
        failure = transient_failure(error, service=service)
        if failure is None:
            return False
        if failure.service is None:
            logger.info("%s: %s; retried later", what, failure.reason)
        else:
            self.of(failure.service).failed(failure.reason)
        return True
