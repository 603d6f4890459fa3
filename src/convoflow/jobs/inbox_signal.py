"""Waking the processors when inbound messages were stored: one signal per stored batch.

The processors (:mod:`convoflow.jobs.inbox_loop`) poll for pending messages on a short
interval anyway; the signal only saves that wait. So a lost signal (Redis away, a process
that just stopped) delays a message by at most one poll, and loses nothing.

* :class:`LocalInboxSignal`: the embedded default, jobs in the server's own process; the
  signal sets the loop's event. While no loop runs in the process (a runtime built for a
  test or a command), :meth:`~LocalInboxSignal.notify` returns False and the dispatcher
  falls back to one ``handle_customer`` job per customer.
* :class:`RedisInboxSignal`: servers and workers apart; one ``PUBLISH`` on
  :data:`INBOX_CHANNEL` per stored batch, which every worker's loop subscribes to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

__all__ = ["INBOX_CHANNEL", "InboxSignal", "LocalInboxSignal", "RedisInboxSignal"]

#: The Redis channel a stored batch is announced on.
INBOX_CHANNEL = "convoflow:inbox"


class InboxSignal(Protocol):
    """Tells the processors that new inbound messages are waiting."""

    async def notify(self) -> bool:
        """Wake them; False when no processor listens (the caller kicks jobs instead)."""


class LocalInboxSignal:
    """Wakes the loop running in this process, if one does."""

    def __init__(self) -> None:
        self._wake: Callable[[], None] | None = None

    def attach(self, wake: Callable[[], None] | None) -> None:
        """Route signals to ``wake`` (None: no loop runs here any more)."""
        self._wake = wake

    async def notify(self) -> bool:
        """Wake the local loop; False when there is none."""
        if self._wake is None:
            return False
        self._wake()
        return True


class RedisInboxSignal:
    """Publishes one message on :data:`INBOX_CHANNEL` per call."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def notify(self) -> bool:
        """Publish the wake-up (the workers' loops poll as well, so nobody listening yet is
        not an error)."""
        await self.redis.publish(INBOX_CHANNEL, b"1")
        return True
