"""Durations written in templates: a number of seconds, or a text such as ``30m``.

A step's ``timeout`` is given as ``90`` (seconds), ``30s``, ``30m``, ``2h`` or ``1d``.
:func:`duration_seconds` reads either form and says clearly what is wrong with anything
else; the template keeps the form its author wrote.
"""

from __future__ import annotations

import math
import re
from typing import Any

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
"""Seconds per unit letter: seconds, minutes, hours, days."""
SHORTEST_SECONDS = 1
"""Timers are fired by a sweep every second, so anything shorter cannot be kept."""
LONGEST_SECONDS = 30 * 86400
"""The longest conversation lifetime (``session_ttl_seconds``): a later timer never fires."""

_TEXT_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_EXPECTED = "expected a number of seconds or a duration such as 30s, 30m, 2h or 1d"


def duration_seconds(value: Any) -> float:
    """The number of seconds ``value`` stands for; :class:`ValueError` says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(_EXPECTED)
    if isinstance(value, str):
        match = _TEXT_DURATION.match(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a duration: {_EXPECTED}")
        seconds = float(int(match.group(1)) * UNIT_SECONDS[match.group(2)])
    else:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(_EXPECTED)
    if seconds < SHORTEST_SECONDS:
        raise ValueError(f"must be at least {SHORTEST_SECONDS} second")
    if seconds > LONGEST_SECONDS:
        raise ValueError(f"must be at most {LONGEST_SECONDS // 86400} days (30d)")
    return seconds
