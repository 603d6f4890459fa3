"""Live events across processes: published on one Redis channel, relayed to local listeners.

A worker that processes a message publishes the events of that turn with one ``PUBLISH``
(a task started after the commit: the message path never waits for it, and a Redis
outage only costs the live updates). Each process that has listeners keeps one
subscription to the channel and fans what arrives out to them through its
:class:`~convoflow.services.live.local.LocalBroadcaster`; so every event reaches every
listener once, whichever process published it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from convoflow.services.live.events import LiveEvent, Subscription
from convoflow.services.live.local import LocalBroadcaster

logger = logging.getLogger(__name__)

CHANNEL = "convoflow:live"
#: The relay's wait between attempts to subscribe again after losing Redis.
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
#: How long closing waits for publishes still under way.
CLOSE_SECONDS = 2.0


class RedisLiveEvents:
    """:class:`~convoflow.services.live.events.LiveEvents` through Redis pub/sub."""

    def __init__(self, redis: Redis, *, channel: str = CHANNEL) -> None:
        self.redis = redis
        self.channel = channel
        self.local = LocalBroadcaster()
        self._publishing: set[asyncio.Task[None]] = set()
        self._relay: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def publish(self, events: list[LiveEvent]) -> None:
        """Start one ``PUBLISH`` of the events and return at once."""
        if not events:
            return
        payload = json.dumps([event.to_json() for event in events], default=str)
        try:
            task = asyncio.get_running_loop().create_task(self._send(payload))
        except RuntimeError:  # no event loop (a synchronous tool): nobody is listening
            return
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self, payload: str) -> None:
        try:
            await self.redis.publish(self.channel, payload)
        except Exception as error:  # live updates are best effort; the rows are durable
            logger.info("live events not published (%r)", error)

    @asynccontextmanager
    async def subscribe(self, owner_id: str) -> AsyncIterator[Subscription]:
        """The owner's events from every process; live once the relay listens."""
        async with self.local.subscribe(owner_id) as events:
            self._start_relay()
            await self._listening.wait()
            yield events

    def _start_relay(self) -> None:
        if self._relay is None or self._relay.done():
            self._relay = asyncio.get_running_loop().create_task(
                self._relay_forever(), name="convoflow-live-relay"
            )

    async def _relay_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._listening.clear()
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                logger.info("live-event relay lost Redis (%r); again in %.1fs", error, delay)
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def _relay_once(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            # The subscription is confirmed before anyone is told it is live.
            await pubsub.get_message(timeout=5.0)
            self._listening.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self.local.publish(_decode(message.get("data")))
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        """Stop relaying; give publishes under way a moment to reach Redis."""
        if self._relay is not None:
            self._relay.cancel()
            await asyncio.gather(self._relay, return_exceptions=True)
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=CLOSE_SECONDS)


def _decode(raw: Any) -> list[LiveEvent]:
    try:
        items = json.loads(raw)
    except (TypeError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    events = [LiveEvent.from_json(item) for item in items if isinstance(item, dict)]
    return [event for event in events if event is not None]
