"""Live events within one process: every subscriber of an owner gets a bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from convoflow.services.live.events import LiveEvent, Subscription

logger = logging.getLogger(__name__)

#: Events a slow subscriber may lag behind before new ones are dropped for it.
QUEUE_SIZE = 1000


class LocalBroadcaster:
    """Fans events out to the subscribers in this process (the embedded default).

    Publishing is a ``put_nowait`` per subscriber: a subscriber that does not keep up
    loses events (logged) rather than slowing the message path.
    """

    def __init__(self, *, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[LiveEvent]]] = {}

    @property
    def subscribed(self) -> int:
        """How many subscriptions are open."""
        return sum(len(queues) for queues in self._subscribers.values())

    def publish(self, events: list[LiveEvent]) -> None:
        """Queue each event for the subscribers of its owner."""
        for event in events:
            for queue in self._subscribers.get(event.owner_id, ()):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    logger.warning(
                        "a live-event subscriber of %s lags; event dropped", event.owner_id
                    )

    @asynccontextmanager
    async def subscribe(self, owner_id: str) -> AsyncIterator[Subscription]:
        """The owner's events, for as long as the block runs."""
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(owner_id, set()).add(queue)
        try:
            yield Subscription(queue)
        finally:
            queues = self._subscribers.get(owner_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[owner_id]

    async def close(self) -> None:
        """Nothing to release: subscribers end with their requests."""
