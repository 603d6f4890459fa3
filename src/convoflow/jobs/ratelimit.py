"""The per-number send rate limit (``CONVOFLOW_WHATSAPP_MAX_MPS``).

Both limiters implement GCRA (the generic cell rate algorithm, a token bucket kept as one
timestamp): each message moves a "theoretical arrival time" forward by ``1 / rate``; a
message may go when that time is no further ahead of now than the burst allowance.
:class:`RedisRateLimiter` keeps the timestamp in Redis (one Lua call per message, Redis's
own clock), so every process sending for a number shares one budget;
:class:`LocalRateLimiter` keeps it in memory for the embedded single process.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from redis.asyncio import Redis

from convoflow.clock import Clock, SystemClock
from convoflow.metrics import observe_rate_limit_wait

__all__ = [
    "LocalRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "acquire",
    "create_rate_limiter",
    "take_slots",
]

#: A burst of this share of one second's budget may go at once.
BURST_SHARE = 0.1
_KEY_PREFIX = "convoflow:rate:"

# KEYS[1] the number's key; ARGV: interval and burst allowance in microseconds.
# Returns 0 when a slot was taken, else the microseconds to wait (nothing taken).
# A spare-capacity reservation (campaign sends) passes a smaller (negative) allowance.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat - burst > now then return math.ceil(tat - burst - now) end
if tat < now then tat = now end
local new_tat = tat + interval
local keep_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', keep_ms)
return 0
"""

# As _RESERVE for up to ARGV[3] slots at once; returns how many were taken (each one as a
# single reservation would have taken it, so a batch never goes past the burst allowance).
_RESERVE_MANY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
local taken = 0
while taken < wanted and tat - burst <= now do
  if tat < now then tat = now end
  tat = tat + interval
  taken = taken + 1
end
if taken > 0 then
  local keep_ms = math.ceil((tat - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', keep_ms)
end
return taken
"""

# KEYS[1] the number's key; ARGV[1] the pause in microseconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_time = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if until_time > tat then
  local keep_ms = math.ceil((until_time - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', until_time), 'PX', keep_ms)
end
return 0
"""


class RateLimiter(Protocol):
    """Spaces out sends per business number.

    A reservation with ``spare=True`` (campaign sends) only takes capacity that replies
    leave over: it never uses the burst allowance and, where there is none (low rates),
    leaves one interval free, so a reply waits at most one interval behind campaign traffic.
    """

    async def reserve(self, key: str, *, spare: bool = False) -> float:
        """Take a slot now (returns 0.0) or say how many seconds until one is free."""

    async def reserve_many(self, key: str, count: int, *, spare: bool = False) -> int:
        """Take up to ``count`` slots now, as many single reservations would; returns how
        many were taken (the rest must wait, one :meth:`reserve` each)."""

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every send for ``key`` back for ``seconds`` (the number hit 130429)."""


class LocalRateLimiter:
    """GCRA in memory: exact for one process."""

    def __init__(self, max_per_second: float, clock: Clock = SystemClock()) -> None:
        self.clock = clock
        self._interval = 1.0 / max_per_second
        self._burst = max(self._interval, BURST_SHARE) - self._interval
        self._arrival: dict[str, float] = {}

    async def reserve(self, key: str, *, spare: bool = False) -> float:
        """See :meth:`RateLimiter.reserve`."""
        now = self.clock.monotonic()
        arrival = self._arrival.get(key)
        allowance = _spare_allowance(self._burst, self._interval) if spare else self._burst
        if arrival is not None and arrival - allowance > now:
            return arrival - allowance - now
        self._arrival[key] = max(arrival if arrival is not None else now, now) + self._interval
        return 0.0

    async def reserve_many(self, key: str, count: int, *, spare: bool = False) -> int:
        """See :meth:`RateLimiter.reserve_many`."""
        taken = 0
        while taken < count and await self.reserve(key, spare=spare) == 0.0:
            taken += 1
        return taken

    async def pause(self, key: str, seconds: float) -> None:
        """See :meth:`RateLimiter.pause`."""
        until = self.clock.monotonic() + seconds
        self._arrival[key] = max(self._arrival.get(key, until), until)


class RedisRateLimiter:
    """GCRA in Redis: one budget per number shared by every process."""

    def __init__(self, redis: Redis, max_per_second: float) -> None:
        self._redis = redis
        interval = 1_000_000 / max_per_second
        self._interval_us = interval
        self._burst_us = max(interval, BURST_SHARE * 1_000_000) - interval
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)
        self._reserve_many = redis.register_script(_RESERVE_MANY)

    async def reserve(self, key: str, *, spare: bool = False) -> float:
        """See :meth:`RateLimiter.reserve`."""
        waited = await self._reserve(
            keys=[_KEY_PREFIX + key],
            args=[f"{self._interval_us:.3f}", f"{self._allowance(spare):.3f}"],
        )
        return int(waited) / 1_000_000

    async def reserve_many(self, key: str, count: int, *, spare: bool = False) -> int:
        """See :meth:`RateLimiter.reserve_many`."""
        taken = await self._reserve_many(
            keys=[_KEY_PREFIX + key],
            args=[f"{self._interval_us:.3f}", f"{self._allowance(spare):.3f}", str(count)],
        )
        return int(taken)

    def _allowance(self, spare: bool) -> float:
        return _spare_allowance(self._burst_us, self._interval_us) if spare else self._burst_us

    async def pause(self, key: str, seconds: float) -> None:
        """See :meth:`RateLimiter.pause`."""
        await self._pause(keys=[_KEY_PREFIX + key], args=[f"{seconds * 1_000_000:.0f}"])


def _spare_allowance(burst: float, interval: float) -> float:
    """The allowance of a spare-capacity reservation: none of the burst, and one interval
    kept free when there is no burst to leave to replies."""
    return 0.0 if burst >= interval else -interval


def create_rate_limiter(
    max_per_second: float, redis: Redis | None, *, clock: Clock = SystemClock()
) -> RateLimiter:
    """The shared Redis limiter when Redis is configured, else the in-process one."""
    if redis is not None:
        # Redis keeps the time of a limiter shared by many processes (its own clock).
        return RedisRateLimiter(redis, max_per_second)
    return LocalRateLimiter(max_per_second, clock=clock)


async def take_slots(limiter: RateLimiter, key: str, count: int, *, spare: bool = False) -> int:
    """Take up to ``count`` slots at once without waiting (a batch of sends); how many were
    taken. Each one goes to the metrics as a send that did not wait."""
    taken = await limiter.reserve_many(key, count, spare=spare)
    for _ in range(taken):
        observe_rate_limit_wait(0.0)
    return taken


async def acquire(limiter: RateLimiter, key: str, *, max_wait: float, spare: bool = False) -> float:
    """Wait for a slot for up to ``max_wait`` seconds (``spare``: from what replies leave).

    Returns 0.0 once a slot is taken, or the remaining wait when it is longer than
    ``max_wait`` (nothing taken): the caller reschedules instead of holding its work.
    The seconds waited go to the metrics.
    """
    waited = 0.0
    while True:
        wait = await limiter.reserve(key, spare=spare)
        if wait <= 0.0:
            observe_rate_limit_wait(waited)
            return 0.0
        if wait > max_wait:
            observe_rate_limit_wait(waited, deferred=True)
            return wait
        await asyncio.sleep(wait)
        waited += wait
