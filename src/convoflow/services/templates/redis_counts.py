"""Pending statistics counts in Redis, shared by every process (one hash).

Each committed turn's counts go out with one ``EVAL`` (``HINCRBY``/``HINCRBYFLOAT`` per
counter, a compare-and-set for the latest use) from a task started after the commit, so
the message path never waits for Redis. A flush takes the whole hash with ``HGETALL`` and
``DEL`` in one script, atomically: an increment lands either before (and is taken) or
after (and waits for the next flush), never in between. Counts whose write failed are
added back the same way.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

from redis.asyncio import Redis

from convoflow.store.counters import StatCounts

logger = logging.getLogger(__name__)

KEY = "convoflow:stats:pending"
_SEP = "|"

_ADD = """
for i = 1, #ARGV, 3 do
  local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'i' then
    redis.call('HINCRBY', KEYS[1], field, value)
  elseif op == 'f' then
    redis.call('HINCRBYFLOAT', KEYS[1], field, value)
  else
    local current = tonumber(redis.call('HGET', KEYS[1], field) or '0')
    if tonumber(value) > current then redis.call('HSET', KEYS[1], field, value) end
  end
end
return 1
"""
_TAKE = """
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all
"""


class RedisCounts:
    """:class:`~convoflow.services.templates.aggregator.PendingCounts` in a Redis hash."""

    def __init__(self, redis: Redis, *, key: str = KEY) -> None:
        self.redis = redis
        self.key = key
        self._sending: set[asyncio.Task[None]] = set()

    def add(self, counts: StatCounts) -> None:
        """Start sending ``counts`` to Redis; return at once."""
        arguments = _encode(counts)
        if not arguments:
            return
        task = asyncio.get_running_loop().create_task(self._send(arguments))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, arguments: list[str]) -> None:
        try:
            await self.redis.eval(_ADD, 1, self.key, *arguments)
        except Exception as error:  # statistics are not worth failing a message for
            logger.warning("statistics counts lost: Redis did not take them (%r)", error)

    async def take(self) -> StatCounts:
        """Every process's pending counts, removed from Redis at once.

        This process's sends still under way are awaited first, so a flush sees what the
        process committed before it.
        """
        if self._sending:
            await asyncio.gather(*set(self._sending), return_exceptions=True)
        flat = await self.redis.eval(_TAKE, 1, self.key)
        return _decode(flat or [])

    async def give_back(self, counts: StatCounts) -> None:
        """Add ``counts`` to Redis again (their write failed)."""
        arguments = _encode(counts)
        if arguments:
            await self.redis.eval(_ADD, 1, self.key, *arguments)


def _field(*parts: str) -> str:
    return _SEP.join(parts)


def _encode(counts: StatCounts) -> list[str]:
    """``op, field, value`` triples for the add script."""
    out: list[str] = []
    for template_id, tally in counts.templates.items():
        for name, value in (
            ("started", tally.started),
            ("succeeded", tally.succeeded),
            ("timed", tally.timed_starts),
        ):
            if value:
                out += ["i", _field("t", template_id, name), str(value)]
        if tally.response_ms_total:
            out += ["f", _field("t", template_id, "ms"), repr(tally.response_ms_total)]
        if tally.last_used_at is not None:
            micros = int(tally.last_used_at.timestamp() * 1_000_000)
            out += ["m", _field("t", template_id, "last"), str(micros)]
    for (owner_id, template_id, step, day), visits in counts.visits.items():
        out += ["i", _field("v", owner_id, template_id, step, day.isoformat()), str(visits)]
    for (owner_id, template_id, from_step, to_step, day), moves in counts.edges.items():
        edge = _field("e", owner_id, template_id, from_step, to_step, day.isoformat())
        out += ["i", edge, str(moves)]
    for (owner_id, template_id, day), day_tally in counts.days.items():
        prefix = ("d", owner_id, template_id, day.isoformat())
        if day_tally.started:
            out += ["i", _field(*prefix, "started"), str(day_tally.started)]
        if day_tally.timed_starts:
            out += ["i", _field(*prefix, "timed"), str(day_tally.timed_starts)]
        if day_tally.response_ms_total:
            out += ["f", _field(*prefix, "ms"), repr(day_tally.response_ms_total)]
    return out


def _decode(flat: list[Any]) -> StatCounts:
    """Counts from the hash's ``field, value`` list (fields it does not know are skipped)."""
    counts = StatCounts()
    for raw_field, raw_value in zip(flat[::2], flat[1::2], strict=False):
        name = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
        text = raw_value.decode() if isinstance(raw_value, bytes) else str(raw_value)
        parts = name.split(_SEP)
        try:
            _apply(counts, parts, text)
        except (ValueError, IndexError):
            logger.warning("unreadable statistics counter %r skipped", name)
    return counts


def _apply(counts: StatCounts, parts: list[str], text: str) -> None:
    kind = parts[0]
    if kind == "t" and len(parts) == 3:
        tally = counts.template(parts[1])
        if parts[2] == "started":
            tally.started += int(text)
        elif parts[2] == "succeeded":
            tally.succeeded += int(text)
        elif parts[2] == "timed":
            tally.timed_starts += int(text)
        elif parts[2] == "ms":
            tally.response_ms_total += float(text)
        elif parts[2] == "last":
            tally.last_used_at = datetime.fromtimestamp(int(text) / 1_000_000, UTC)
    elif kind == "v" and len(parts) == 5:
        visit = (parts[1], parts[2], parts[3], date.fromisoformat(parts[4]))
        counts.visits[visit] += int(text)
    elif kind == "e" and len(parts) == 6:
        edge = (parts[1], parts[2], parts[3], parts[4], date.fromisoformat(parts[5]))
        counts.edges[edge] += int(text)
    elif kind == "d" and len(parts) == 5:
        day = counts.day(parts[1], parts[2], date.fromisoformat(parts[3]))
        if parts[4] == "started":
            day.started += int(text)
        elif parts[4] == "timed":
            day.timed_starts += int(text)
        elif parts[4] == "ms":
            day.response_ms_total += float(text)
