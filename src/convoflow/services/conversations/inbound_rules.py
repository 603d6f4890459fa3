"""A port for rules that see an inbound message before its conversation does.

The message processor asks the rules (campaign opt-out, opt-in and replies, given by the
composition root) about each message, inside the message's transaction and under the
conversation lock. An answer may start a template instead of the usual handling, or keep
the message from the conversation altogether; None lets it through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    ``handled``, leave the conversation alone; ``queued`` counts the rows the rules queued."""

    handled: bool = False
    start: TemplateRef | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    queued: int = 0


class InboundRules(Protocol):
    """Looks at an inbound message before the conversation does."""

    async def prepare(
        self, db_session: AsyncSession, customers: Sequence[tuple[str, str]], *, now: datetime
    ) -> None:
        """Read what the rules need for a batch of these customers' turns on this session
        at once (a batch processor calls it before the turns; one-off turns do not)."""
        ...

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
