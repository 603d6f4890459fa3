"""Worker heartbeats: how many processes are consuming jobs right now.

Every process that runs jobs (each ``convoflow worker``; ``convoflow serve`` itself when
jobs run in-process) refreshes a heartbeat every :data:`HEARTBEAT_SECONDS`; a heartbeat
not refreshed within :data:`HEARTBEAT_TTL_SECONDS` has expired. ``/readyz`` reports the
live ones as ``workers_alive``.

With Redis each worker has a key ``convoflow:worker:<id>`` (host, pid, start, concurrency)
with that TTL, so Redis itself expires a killed worker's heartbeat, plus an index set of the
ids, so counting never scans the keyspace. Without Redis the server counts itself, in
memory, on the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from typing import Protocol

from redis.asyncio import Redis

from convoflow.clock import Clock, SystemClock
from convoflow.outages import Outages, retry_delay
from convoflow.store.transient import REDIS

__all__ = [
    "HEARTBEAT_SECONDS",
    "HEARTBEAT_TTL_SECONDS",
    "Heartbeats",
    "LocalHeartbeats",
    "RedisHeartbeats",
    "WorkerHeartbeat",
    "new_worker_id",
]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TTL_SECONDS = 15.0
KEY_PREFIX = "convoflow:worker:"
INDEX_KEY = "convoflow:workers"

# KEYS[1] the index; ARGV[1] the key prefix. Counts the live heartbeats and drops the
# index entries whose key has expired.
_COUNT_ALIVE = """
local alive = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    alive = alive + 1
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return alive
"""


def new_worker_id() -> str:
    """A worker id that says where it runs: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeats(Protocol):
    """Where heartbeats are kept."""

    async def beat(self, worker_id: str, *, ttl_seconds: float, about: dict[str, object]) -> None:
        """Record that ``worker_id`` is alive for the next ``ttl_seconds``."""

    async def forget(self, worker_id: str) -> None:
        """``worker_id`` stopped: it no longer counts."""

    async def alive(self) -> int:
        """How many heartbeats have not expired."""


class RedisHeartbeats:
    """A key per worker with a TTL, and an index of the ids."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def beat(self, worker_id: str, *, ttl_seconds: float, about: dict[str, object]) -> None:
        """Set the worker's key for ``ttl_seconds`` and list it in the index."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(KEY_PREFIX + worker_id, json.dumps(about), px=max(1, int(ttl_seconds * 1000)))
            pipe.sadd(INDEX_KEY, worker_id)
            await pipe.execute()

    async def forget(self, worker_id: str) -> None:
        """Delete the worker's key and index entry."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(KEY_PREFIX + worker_id)
            pipe.srem(INDEX_KEY, worker_id)
            await pipe.execute()

    async def alive(self) -> int:
        """The workers whose key has not expired (one round trip)."""
        count = await self.redis.eval(_COUNT_ALIVE, 1, INDEX_KEY, KEY_PREFIX)
        return int(count)


class LocalHeartbeats:
    """Heartbeats of this process only, expiring on ``clock``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._expires: dict[str, float] = {}

    async def beat(self, worker_id: str, *, ttl_seconds: float, about: dict[str, object]) -> None:
        """Alive until ``ttl_seconds`` from now on the clock."""
        self._expires[worker_id] = self.clock.monotonic() + ttl_seconds

    async def forget(self, worker_id: str) -> None:
        """No longer alive."""
        self._expires.pop(worker_id, None)

    async def alive(self) -> int:
        """How many heartbeats are still ahead of the clock."""
        now = self.clock.monotonic()
        self._expires = {key: until for key, until in self._expires.items() if until > now}
        return len(self._expires)


class WorkerHeartbeat:
    """One process's heartbeat: refreshed every ``every`` seconds until stopped.

    A refresh that fails (Redis away) is reported to ``outages`` and tried again sooner,
    with backoff, up to the usual period; the heartbeat is removed when the loop stops.
    """

    def __init__(
        self,
        heartbeats: Heartbeats,
        *,
        about: dict[str, object] | None = None,
        every: float = HEARTBEAT_SECONDS,
        ttl_seconds: float = HEARTBEAT_TTL_SECONDS,
        outages: Outages | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.heartbeats = heartbeats
        self.worker_id = worker_id or new_worker_id()
        self.about = about or {}
        self.every = every
        self.ttl_seconds = ttl_seconds
        self.outages = outages or Outages()

    async def beat(self) -> None:
        """Refresh the heartbeat once."""
        await self.heartbeats.beat(self.worker_id, ttl_seconds=self.ttl_seconds, about=self.about)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat now and every ``every`` seconds until ``stop`` is set, then forget it."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self.beat()
                except Exception as exc:
                    failures += 1
                    if not self.outages.absorb(exc, what="heartbeat", service=REDIS):
                        logger.exception("heartbeat failed")
                else:
                    failures = 0
                    self.outages.recovered(REDIS)
                wait = retry_delay(failures, cap=self.every) if failures else self.every
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            with contextlib.suppress(Exception):  # an expired heartbeat goes by itself
                await self.heartbeats.forget(self.worker_id)
