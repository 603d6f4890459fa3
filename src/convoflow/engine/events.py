"""Events that move a conversation: what the customer sent, a timer, or an effect's result.

Events are frozen, slotted dataclasses built at the edge (the WhatsApp parser, the terminal
chat, the admin API) and handed to :func:`convoflow.engine.advance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Start:
    """Start the template at its first step (trigger matched, API start or `connect`).

    ``text`` is the customer's message that started it, if any (an AI step at the start
    answers it).
    """

    variables: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True, slots=True)
class TextReceived:
    """The customer typed free text."""

    text: str


@dataclass(frozen=True, slots=True)
class ChoiceReceived:
    """The customer tapped a reply button, a list row or a template quick-reply button."""

    choice_id: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class MediaReceived:
    """The customer sent media (image, video, audio, document, sticker)."""

    kind: str
    media_id: str = ""
    caption: str = ""
    mime_type: str = ""


@dataclass(frozen=True, slots=True)
class LocationReceived:
    """The customer shared a location."""

    latitude: float
    longitude: float
    name: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class EffectResult:
    """An effect (HTTP dependency, end action) finished; ``ok`` tells whether it succeeded."""

    effect_id: str
    ok: bool
    data: Any = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Timeout:
    """A waiting step's timer ran out; ``timer_id`` is the ``Timer.id`` it was armed with.

    A Timeout whose id is not the state's current timer, or that comes before the due
    time, is stale and changes nothing.
    """

    timer_id: str


@dataclass(frozen=True, slots=True)
class Release:
    """A human agent released a conversation that was handed off."""


Event = (
    Start
    | TextReceived
    | ChoiceReceived
    | MediaReceived
    | LocationReceived
    | EffectResult
    | Timeout
    | Release
)
