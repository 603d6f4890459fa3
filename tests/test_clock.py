"""The injected clock: the system one is aware UTC, the fake one moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convoflow.clock import FakeClock, SystemClock


def test_system_clock_gives_aware_utc_and_a_monotonic_counter() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == start
    ticks = clock.monotonic()
    assert clock.advance(90) == start + timedelta(seconds=90)
    assert clock.advance(hours=2) == start + timedelta(seconds=90, hours=2)
    assert clock.monotonic() - ticks == pytest.approx(90 + 7200)
    clock.set(start + timedelta(days=1))
    assert clock.now() == start + timedelta(days=1)


def test_fake_clock_never_goes_back_nor_starts_naive() -> None:
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 3, 1))
