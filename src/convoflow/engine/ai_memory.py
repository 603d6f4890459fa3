"""What the AI steps remember between events, kept on the state as ``ConversationState.ai``.

A plain JSON object, so both state stores keep it as they keep the rest of the state::

    {"step": "assistant",            # the AI step this memory's turns and phase belong to
     "transcript": [{"role": "user", "content": "I need a loan"},
                    {"role": "assistant", "content": "How much would you like?"}],
     "pending": ["make that 40,000"], # the customer's messages held while a turn waits
                                      # or runs (a turn that already read some of them
                                      # says how many: its result's "heard")
     "turns": 2,                      # model turns of this visit of the step
     "phase": "talk",                 # talk | confirm (a summary waits) | handoff
     "handoff_reason": "..."}         # why a person took over (phase handoff)

The transcript is shared by the AI steps of one conversation (an ``ai_reply`` after an
``ai_classify`` sees the question that was classified) and keeps the last
:data:`TRANSCRIPT_LIMIT` entries.
"""

from __future__ import annotations

import copy
from typing import Any

from .events import ChoiceReceived, Event, LocationReceived, MediaReceived, TextReceived

TRANSCRIPT_LIMIT = 40
TALK, CONFIRM, HANDOFF = "talk", "confirm", "handoff"


def copied(memory: dict[str, Any] | None) -> dict[str, Any]:
    """A deep copy of a stored memory with every key present (the state is never changed)."""
    fresh = copy.deepcopy(memory) if memory else {}
    fresh.setdefault("step", "")
    fresh.setdefault("transcript", [])
    fresh.setdefault("pending", [])
    fresh.setdefault("turns", 0)
    fresh.setdefault("phase", TALK)
    return fresh


def visit(memory: dict[str, Any] | None, step_id: str) -> dict[str, Any]:
    """The memory for a new visit of an AI step: the transcript kept, the rest reset."""
    fresh = copied(memory)
    fresh.update(step=step_id, pending=[], turns=0, phase=TALK)
    fresh.pop("handoff_reason", None)
    return fresh


def _append(memory: dict[str, Any], role: str, text: str) -> None:
    if not text.strip():
        return
    transcript: list[dict[str, str]] = memory["transcript"]
    transcript.append({"role": role, "content": text})
    del transcript[:-TRANSCRIPT_LIMIT]


def heard(memory: dict[str, Any], text: str) -> None:
    """The customer said ``text``."""
    _append(memory, "user", text)


def said(memory: dict[str, Any], text: str) -> None:
    """The bot said ``text``."""
    _append(memory, "assistant", text)


def take_pending(memory: dict[str, Any], count: int | None = None) -> list[str]:
    """The messages held during the last turn (the first ``count`` of them, when given),
    moved into the transcript."""
    held = [str(text) for text in memory.get("pending") or []]
    taken = held if count is None else held[: max(count, 0)]
    memory["pending"] = held[len(taken) :]
    pending = taken
    for text in pending:
        heard(memory, text)
    return pending


def words_of(event: Event) -> str | None:
    """What a customer event says, as text for the model (None: not a customer message)."""
    if isinstance(event, TextReceived):
        return event.text
    if isinstance(event, ChoiceReceived):
        return event.title or event.choice_id
    if isinstance(event, MediaReceived):
        return event.caption or f"[the customer sent {event.kind}]"
    if isinstance(event, LocationReceived):
        where = ", ".join(part for part in (event.name, event.address) if part)
        place = f" ({where})" if where else ""
        return f"[location {event.latitude}, {event.longitude}{place}]"
    return None
