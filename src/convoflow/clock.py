"""Where convoflow gets the time: one injected clock, so time can be controlled in tests.

Services, jobs and the sweeper are handed a :class:`Clock` by the composition root and never
read the system time themselves. The engine is given ``now`` by its caller. Tests hand in a
:class:`FakeClock` and move it forward instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from convoflow.errors import InvalidArgument

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Wall-clock time (timezone-aware UTC) and a monotonic counter for intervals."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals, not for dates)."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise InvalidArgument("a FakeClock needs a timezone-aware start time")
        self._monotonic = 1_000.0

    def now(self) -> datetime:
        """The time it was set or moved to."""
        return self._now

    def monotonic(self) -> float:
        """Seconds moved so far, from an arbitrary origin."""
        return self._monotonic

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward by ``seconds`` (plus any :class:`~datetime.timedelta` keywords)."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise InvalidArgument("a clock does not go back")
        self._now += step
        self._monotonic += step.total_seconds()
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (not earlier than now)."""
        self.advance((moment - self._now).total_seconds())
