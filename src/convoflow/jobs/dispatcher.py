"""Handing work to the background after a commit: what the webhook and the jobs call.

Kicking a job only names the work (a customer, an effect row); the work itself is already
durable in the database, so a kick that is lost (a crash, Redis down) delays it until the
sweeper's next pass and never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from convoflow.jobs.inbox_signal import InboxSignal

__all__ = ["DELIVER_OUTBOX", "FIRE_TIMER", "HANDLE_CUSTOMER", "RUN_EFFECT", "Dispatcher"]

logger = logging.getLogger(__name__)

HANDLE_CUSTOMER = "convoflow.handle_customer"
DELIVER_OUTBOX = "convoflow.deliver_outbox"
RUN_EFFECT = "convoflow.run_effect"
FIRE_TIMER = "convoflow.fire_timer"


class Dispatcher:
    """Kicks the background jobs on the runtime's broker."""

    def __init__(self, broker: AsyncBroker, inbox: InboxSignal | None = None) -> None:
        self.broker = broker
        self.inbox = inbox

    async def customers_received(self, customers: Iterable[tuple[str, str]]) -> None:
        """Each (owner, customer) has new inbound messages: process them, then reply.

        With a processor loop listening (:mod:`convoflow.jobs.inbox_loop`) that is one
        wake-up signal for them all; without one, a job per customer.
        """
        customers = list(customers)
        if not customers:
            return
        if self.inbox is not None and await self.inbox.notify():
            return
        for owner_id, customer_key in customers:
            await self._kick(HANDLE_CUSTOMER, owner_id, customer_key)

    async def deliver(self, owner_id: str, customer_key: str) -> None:
        """The customer's outbox may have due rows: send them."""
        await self._kick(DELIVER_OUTBOX, owner_id, customer_key)

    async def run_effects(self, effect_row_ids: Iterable[str]) -> None:
        """These effect rows are due: run them."""
        for effect_row_id in effect_row_ids:
            await self._kick(RUN_EFFECT, effect_row_id)

    async def fire_timers(self, conversations: Iterable[tuple[str, str]]) -> None:
        """Each (owner, customer) has a step timer that ran out: fire it."""
        for owner_id, customer_key in conversations:
            await self._kick(FIRE_TIMER, owner_id, customer_key)

    async def _kick(self, task_name: str, *args: str) -> None:
        kicker: AsyncKicker[..., None] = AsyncKicker(
            task_name=task_name, broker=self.broker, labels={}
        )
        await kicker.kiq(*args)
