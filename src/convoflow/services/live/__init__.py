"""Live updates for the inbox: what happened to whose conversation, pushed as it happens.

Use cases note events on their database session (:func:`announce`); they are published
once the transaction commits, never before and never for a rolled-back one. A process
publishes through its :class:`LiveEvents` (in-process, or Redis pub/sub across processes)
and ``GET /api/events`` streams an owner's events to the browser.
"""

from convoflow.services.live.announce import announce, attach_publisher, publisher_of
from convoflow.services.live.events import LiveEvent, LiveEvents, message_event, status_event

__all__ = [
    "LiveEvent",
    "LiveEvents",
    "announce",
    "attach_publisher",
    "message_event",
    "publisher_of",
    "status_event",
]
