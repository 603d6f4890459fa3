"""A port for rules that see an inbound message before its conversation does.

The message processor asks the rules (campaign opt-out, opt-in and replies, given by the
composition root) about each message, inside the message's transaction and under the
conversation lock. An answer may start a template instead of the usual handling, or keep
the message from the conversation altogether; None lets it through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.events import Event
from convoflow.services.conversations.service import Customer
from convoflow.services.templates.catalog import TemplateRef

__all__ = ["InboundRules", "InboundVerdict"]


@dataclass(frozen=True, slots=True)
class InboundVerdict:
    """``start`` a template with ``variables`` (ending any live conversation), or, when
    ``handled``, leave the conversation alone; ``outbound_ids`` are rows the rules queued."""

    handled: bool = False
    start: TemplateRef | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    outbound_ids: list[int] = field(default_factory=list)


class InboundRules(Protocol):
    """Looks at an inbound message before the conversation does."""

    async def before_turn(
        self,
        db_session: AsyncSession,
        customer: Customer,
        event: Event,
        payload: dict[str, Any],
        *,
        now: datetime,
    ) -> InboundVerdict | None:
        """What to do with this message instead of (or besides) the usual handling."""
        ...
