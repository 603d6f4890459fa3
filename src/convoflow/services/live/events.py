"""The live events and the port that publishes and subscribes to them."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EventKind = Literal["message", "status", "conversation"]
KINDS: frozenset[str] = frozenset({"message", "status", "conversation"})


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """Something the owner's inbox should show now.

    ``kind`` is ``message`` (a message stored, in or out), ``status`` (an outbound
    message's delivery tick moved) or ``conversation`` (a handoff, a release, a step
    change); ``data`` always names the ``customer``.
    """

    kind: EventKind
    owner_id: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As sent between processes."""
        return {"kind": self.kind, "owner_id": self.owner_id, "data": self.data}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LiveEvent | None:
        """Read what :meth:`to_json` wrote (None for anything else)."""
        kind, owner_id, data = value.get("kind"), value.get("owner_id"), value.get("data")
        if kind not in KINDS or not isinstance(owner_id, str) or not isinstance(data, dict):
            return None
        return cls(kind, owner_id, data)


def message_event(
    owner_id: str, *, customer_key: str, message_id: int, direction: str, **data: Any
) -> LiveEvent:
    """A message was stored (``direction`` ``in`` or ``out``)."""
    body = {"customer": customer_key, "id": message_id, "direction": direction, **data}
    return LiveEvent("message", owner_id, body)


def status_event(
    owner_id: str, *, customer_key: str, message_id: int, status: str, **data: Any
) -> LiveEvent:
    """An outbound message's delivery status changed."""
    body = {"customer": customer_key, "id": message_id, "status": status, **data}
    return LiveEvent("status", owner_id, body)


class Subscription:
    """One listener's events, in the order they were published."""

    def __init__(self, queue: asyncio.Queue[LiveEvent]) -> None:
        self._queue = queue

    async def next(self, within: float) -> LiveEvent | None:
        """The next event, or None when none came within ``within`` seconds."""
        try:
            return await asyncio.wait_for(self._queue.get(), within)
        except TimeoutError:
            return None


class LiveEvents(Protocol):
    """Where a process publishes live events and where ``/api/events`` listens."""

    def publish(self, events: list[LiveEvent]) -> None:
        """Hand the events on without waiting; never raises, never blocks the caller."""

    def subscribe(self, owner_id: str) -> AbstractAsyncContextManager[Subscription]:
        """The owner's events from now on (the subscription is live once entered)."""

    async def close(self) -> None:
        """Stop listening and let publishes under way finish (briefly)."""
