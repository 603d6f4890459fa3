"""Read receipts: after a customer's batch is processed, their newest message is marked read.

The marks are chosen by :func:`~convoflow.services.inbox.read_marks.read_marks_for` (one per
business number, with "typing…" when the reply is late) and sent through
:meth:`GraphClient.mark_as_read` with that number's own access token. A read mark is a
courtesy: a failure is logged once and never retried, and never fails or delays the message
it is about. Nothing is sent when ``CONVOFLOW_WHATSAPP_MARK_READ`` is false, from a number
without a usable access token (its replies fail saying why), or for channels the Graph API
does not serve (the terminal chat).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.clock import Clock, SystemClock
from convoflow.errors import AccessTokenUnavailable, GraphError, InvalidArgument
from convoflow.jobs.sender import NEVER_DELIVERED_CHANNELS
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.inbox.read_marks import ProcessedInbound, ReadMark, read_marks_for

__all__ = ["ReadReceipts"]

logger = logging.getLogger(__name__)


class ReadReceipts:
    """Chooses and sends the read marks of processed batches.

    ``enabled`` is false when the setting is off; ``tokens`` gives each business number's
    token (without it, the Graph client's own); ``clock`` tells when a batch finished.
    """

    def __init__(
        self,
        *,
        graph: GraphClient,
        enabled: bool,
        tokens: AccessTokens | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.graph = graph
        self.enabled = enabled
        self.tokens = tokens
        self.clock = clock

    def marks_for(self, processed: Iterable[ProcessedInbound]) -> list[ReadMark]:
        """The marks a batch that finished now earns (none when disabled)."""
        if not self.enabled:
            return []
        on_whatsapp = [
            message
            for message in processed
            if message.phone_number_id not in NEVER_DELIVERED_CHANNELS
        ]
        return read_marks_for(on_whatsapp, finished_at=self.clock.now())

    async def send(self, marks: Iterable[ReadMark]) -> int:
        """Send each mark once; returns how many Meta accepted."""
        accepted = 0
        for mark in marks:
            try:
                token = await self._token_for(mark.phone_number_id)
            except AccessTokenUnavailable as missing:  # the replies' rows say it already
                logger.debug("not marking %s as read: %s", mark.wamid, missing)
                continue
            try:
                await self.graph.mark_as_read(
                    mark.phone_number_id,
                    mark.wamid,
                    typing_indicator=mark.typing_indicator,
                    access_token=token,
                )
            except (GraphError, InvalidArgument) as error:
                logger.warning("marking %s as read failed (not retried): %s", mark.wamid, error)
                continue
            accepted += 1
        return accepted

    async def _token_for(self, phone_number_id: str) -> str | None:
        """The number's token; None means the Graph client's own."""
        return None if self.tokens is None else await self.tokens.token_for(phone_number_id)
