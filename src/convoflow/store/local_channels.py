"""Channels served inside convoflow, and the simulated customers who are not real ones.

The terminal chat (``convoflow chat``) and the builder's simulator talk to the bot through
the real message path: their messages are inbound rows, the bot's replies outbox rows. The
rows carry one of :data:`LOCAL_CHANNELS` as their ``phone_number_id``, so the sender, the
sweeper, read receipts and the backlog leave them alone; whoever talks shows the replies
and marks them sent. A simulator customer's key starts with :data:`SIMULATED_PREFIX`: their
runs are not counted in the template statistics and their conversations and messages are
left out of the admin lists unless asked for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, not_, or_

TERMINAL_CHANNEL = "terminal"
SIMULATOR_CHANNEL = "simulator"
LOCAL_CHANNELS: tuple[str, ...] = (TERMINAL_CHANNEL, SIMULATOR_CHANNEL)
"""Channels whose outbox rows never go to the Graph API."""
SIMULATED_PREFIX = "sim:"


def simulated_key(session_id: str) -> str:
    """The customer key of a simulator session's test customer."""
    return f"{SIMULATED_PREFIX}{session_id}"


def is_simulated(customer_key: str | None) -> bool:
    """Whether a customer key is a simulator's test customer."""
    return customer_key is not None and customer_key.startswith(SIMULATED_PREFIX)


def real_customer(column: Any) -> ColumnElement[bool]:
    """SQL condition: the customer-key ``column`` is empty or not a simulated customer."""
    return or_(column.is_(None), not_(column.startswith(SIMULATED_PREFIX, autoescape=True)))
