"""Which read mark a processed batch of inbound messages earns, and whether it says "typing…".

After the processor handles a customer's pending messages, the customer sees them read:
one mark for the newest processed message per business number is enough, because Meta
marks every earlier message of the chat read with it. Messages the engine ignored (a
reaction, an unsupported type) or failed to process are never marked.

The mark carries a typing indicator when the customer is waiting for a reply that was not
queued within :data:`REPLY_EXPECTED_WITHIN` of the message's arrival: the turn queued its
reply late, or queued none yet because it waits for an effect (an ``http`` step) whose
result will answer. A turn that queued nothing and waits for nothing (a handoff, a text no
template answers) gets no indicator: "typing…" would promise a reply that is not coming.
The decision uses only stored times and the turn's result, so it never depends on a sleep.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["REPLY_EXPECTED_WITHIN", "ProcessedInbound", "ReadMark", "read_marks_for"]

#: A reply queued later than this after the message arrived is announced by "typing…".
REPLY_EXPECTED_WITHIN = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ProcessedInbound:
    """An inbound message the processor handled, as a read mark needs to know it."""

    row_id: int  # arrival order
    wamid: str
    phone_number_id: str
    received_at: datetime  # when the webhook stored it
    replied: bool  # its turn queued at least one outbound message
    awaits_effect: bool  # its turn waits for an effect whose result may reply


@dataclass(frozen=True, slots=True)
class ReadMark:
    """One mark-as-read call: the newest processed message of a chat."""

    phone_number_id: str
    wamid: str
    typing_indicator: bool


def read_marks_for(
    processed: Iterable[ProcessedInbound],
    *,
    finished_at: datetime,
    reply_expected_within: timedelta = REPLY_EXPECTED_WITHIN,
) -> list[ReadMark]:
    """One mark per business number, for its newest processed message.

    ``finished_at`` is when the processor finished the batch (the replies were queued by
    then).
    """
    newest: dict[str, ProcessedInbound] = {}
    for message in processed:
        current = newest.get(message.phone_number_id)
        if current is None or message.row_id > current.row_id:
            newest[message.phone_number_id] = message
    return [
        ReadMark(
            phone_number_id=message.phone_number_id,
            wamid=message.wamid,
            typing_indicator=_reply_is_late(message, finished_at, reply_expected_within),
        )
        for message in sorted(newest.values(), key=lambda message: message.row_id)
    ]


def _reply_is_late(message: ProcessedInbound, finished_at: datetime, allowed: timedelta) -> bool:
    if message.replied:
        return finished_at - message.received_at > allowed
    return message.awaits_effect
