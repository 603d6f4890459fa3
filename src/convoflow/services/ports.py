"""Narrow ports the services are handed by the composition root (never the whole runtime)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class BackgroundWork(Protocol):
    """Kicks background work that is already durable (rows written and committed).

    A lost kick only delays the work: the sweeper finds the rows on its next pass.
    """

    async def customers_received(self, customers: Iterable[tuple[str, str]]) -> None:
        """Process these customers' pending inbound messages."""

    async def deliver(self, owner_id: str, customer_key: str) -> None:
        """Deliver the customer's due outbox rows."""

    async def run_effects(self, effect_row_ids: Iterable[str]) -> None:
        """Run these effect rows."""


class EffectsNow(Protocol):
    """Runs effects at once for a caller that waits for their results (the local channels:
    the terminal chat and the builder's simulator, where nobody else would run them soon)."""

    async def settle(self, instance_ids: Iterable[str]) -> None:
        """Run these instances' new effects that the conversation waits for (a model turn,
        an ``http`` step), then the ones their results lead to, until none is left."""
