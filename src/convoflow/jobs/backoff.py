"""Retry delays: exponential backoff with jitter, ``Retry-After``, and WhatsApp's 4^x rule."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff", "pair_rate_delay"]

_RETRY_AFTER_JITTER = 0.1
_PAIR_RATE_CAP_SECONDS = 1024.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random.

    The jitter spreads retries of many rows that failed together (a 429 burst) so they do
    not come back as one burst again.
    """

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 300.0

    def delay(
        self, failures: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1 for the first).

        A server's ``Retry-After`` wins over the computed delay (it knows when it will have
        room again); a little jitter is added so waiting clients do not return in lockstep.
        """
        draw = (rng or random).random()
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_seconds) * (1 + _RETRY_AFTER_JITTER * draw)
        ceiling = min(self.cap_seconds, self.base_seconds * self.factor ** max(failures - 1, 0))
        return ceiling / 2 + ceiling / 2 * draw


def pair_rate_delay(failures: int, *, rng: random.Random | None = None) -> float:
    """Meta's advice for 131056 (pair rate limit): wait 4^x seconds, x = 0, 1, 2, ...

    A small jitter (up to 10 %) keeps several customers' retries apart.
    """
    draw = (rng or random).random()
    seconds = min(4.0 ** max(failures - 1, 0), _PAIR_RATE_CAP_SECONDS)
    return seconds * (1 + _RETRY_AFTER_JITTER * draw)
