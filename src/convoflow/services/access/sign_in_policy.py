"""How long a sign-in lasts and how many failed sign-ins are allowed (from the settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: A session's last use is written at most this often (less for very short idle limits),
#: so a busy browser does not write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    """Session lifetime and failed-sign-in throttling.

    A session ends ``idle`` after its last use, and ``max_age`` after it began however much
    it is used. ``max_failures`` failed sign-ins for one user name, or
    ``max_failures_per_ip`` from one client address, within ``failure_window`` refuse
    further attempts until the oldest of them leaves the window.
    """

    idle: timedelta = timedelta(hours=12)
    max_age: timedelta = timedelta(days=7)
    max_failures: int = 5
    max_failures_per_ip: int = 20
    failure_window: timedelta = timedelta(minutes=15)

    def expiry(self, *, created_at: datetime, last_seen_at: datetime) -> datetime:
        """When a session created and last used at these times ends."""
        return min(last_seen_at + self.idle, created_at + self.max_age)

    def due_for_touch(self, *, last_seen_at: datetime, now: datetime) -> bool:
        """True when the session's last use should be written again."""
        return now - last_seen_at >= min(TOUCH_INTERVAL, self.idle / 12)
