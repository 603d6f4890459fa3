"""What :func:`convoflow.engine.advance` decides: the new state, messages and effects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class FlowStatus(StrEnum):
    """Where the conversation stands after an advance."""

    WAITING_INPUT = "waiting_input"  # a step waits for the customer
    WAITING_EFFECT = "waiting_effect"  # an http step waits for its effect result
    HANDOFF = "handoff"  # paused for a human agent
    COMPLETED = "completed"  # reached an `end` step
    FAILED = "failed"  # gave up (retries exhausted, effect failed without route)
    CANCELLED = "cancelled"  # the customer cancelled


@dataclass(frozen=True, slots=True)
class Timer:
    """A waiting step's timeout: at ``due_at`` the step gives up waiting.

    Armed by the engine when the conversation stops at a step with a ``timeout`` (due
    ``timeout`` after the ``now`` of that advance) and delivered back as
    ``Timeout(timer.id)``. The id names this arming, so a Timeout meant for an earlier
    wait is recognised as stale.
    """

    step_id: str
    due_at: datetime

    @property
    def id(self) -> str:
        """``<step id>@<due time>``: unique per arming of a step."""
        return f"{self.step_id}@{self.due_at.isoformat()}"

    def is_due(self, now: datetime) -> bool:
        """Whether the timer has run out at ``now``."""
        return now >= self.due_at

    def to_json(self) -> dict[str, str]:
        """Serialise for storage."""
        return {"step_id": self.step_id, "due_at": self.due_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        """Load what :meth:`to_json` stored."""
        return cls(step_id=str(data["step_id"]), due_at=datetime.fromisoformat(data["due_at"]))


@dataclass(slots=True)
class ConversationState:
    """Where one customer stands in one template.

    ``variables`` holds what the flow collected and set (rendered as ``{{name}}``);
    ``retries`` counts invalid answers at ``current_step``; ``waiting_effect`` names the
    effect an ``http`` step (or a model turn) waits for; ``timer`` is the waiting step's
    timeout, if it has one; ``ai`` is what the AI steps remember (the transcript, the
    customer's messages held during a model turn, the turns used, whether a summary waits
    for confirmation or a person took over: see :mod:`.ai_memory`). The service persists
    this as the ``context`` JSON.
    """

    template_name: str
    current_step: str
    variables: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    waiting_effect: str | None = None
    history: list[str] = field(default_factory=list)
    timer: Timer | None = None
    ai: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Serialise for storage (``ai`` only when an AI step left something)."""
        data = {
            "template_name": self.template_name,
            "current_step": self.current_step,
            "variables": self.variables,
            "retries": self.retries,
            "waiting_effect": self.waiting_effect,
            "history": self.history,
            "timer": self.timer.to_json() if self.timer is not None else None,
        }
        if self.ai is not None:
            data["ai"] = self.ai
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        """Load what :meth:`to_json` stored."""
        return cls(
            template_name=str(data["template_name"]),
            current_step=str(data["current_step"]),
            variables=dict(data.get("variables") or {}),
            retries=int(data.get("retries") or 0),
            waiting_effect=data.get("waiting_effect"),
            history=list(data.get("history") or []),
            timer=Timer.from_json(data["timer"]) if data.get("timer") else None,
            ai=dict(data["ai"]) if isinstance(data.get("ai"), dict) else None,
        )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message for the customer, as the Graph API message object without ``to``.

    ``body`` is e.g. ``{"type": "text", "text": {"body": "Hi"}}`` or
    ``{"type": "interactive", "interactive": {...}}``; the sender adds ``messaging_product``
    and the recipient. ``step_id`` names the step that produced it.
    """

    body: dict[str, Any]
    step_id: str

    @property
    def type(self) -> str:
        """The Graph API message type (text, interactive, image, template, ...)."""
        return str(self.body["type"])


@dataclass(frozen=True, slots=True)
class HttpCall:
    """Call an outside API (an ``http`` step or a workflow dependency)."""

    effect_id: str
    step_id: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    timeout_seconds: float = 10.0
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class EndAction:
    """Run the template's end action (e.g. ``api_call``) with the collected data."""

    effect_id: str
    action_type: str
    target: dict[str, Any]
    state_data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LlmTurn:
    """Run one model turn for an AI step (see :mod:`.ai_turns`); its result comes back as
    an :class:`~.events.EffectResult` carrying the turn's outcome (see :mod:`.ai_results`).

    ``mode`` is the step type (``ai_reply``, ``ai_extract``, ``ai_classify``);
    ``guidelines`` are the template's and the step's instructions; ``fields`` the typed
    fields the model may set (``state_schema`` specs as JSON), ``values`` what they hold
    now; ``transcript`` the conversation so far (``{"role", "content"}``); ``tools`` and
    ``knowledge_bases`` what the model may use besides the built-in tools; ``categories``
    the ids and descriptions an ``ai_classify`` step chooses from; ``llm`` the template's
    ``default_params.llm`` (model, temperature, limits, fallback text); ``confirm`` whether
    the engine shows a summary to confirm once the fields are set.
    """

    effect_id: str
    step_id: str
    mode: str
    guidelines: str
    fields: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    transcript: list[dict[str, str]] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    knowledge_bases: list[str] = field(default_factory=list)
    categories: list[dict[str, str]] = field(default_factory=list)
    llm: dict[str, Any] = field(default_factory=dict)
    confirm: bool = False


Effect = HttpCall | EndAction | LlmTurn


@dataclass(slots=True)
class Outcome:
    """The result of one advance.

    ``state`` is None when the conversation is over (completed, failed, cancelled).
    ``connect_to`` names a template to continue in (a ``connect`` step): the service loads
    it and starts it with ``state.variables`` carried over. ``visited_steps`` lists the
    steps run in this advance, in order (for the funnel statistics). ``input_rejected`` is
    true when the customer's answer did not fit the waiting step and was re-asked.
    ``variables`` holds the run's variables after this advance, also when it ended.
    ``handoff_reason`` is set when this advance hands the conversation to a person (a
    ``handoff`` step, or an AI step giving up): why, in words for the agent. It stays None
    while a conversation that is already handed off keeps waiting.
    """

    status: FlowStatus
    state: ConversationState | None
    messages: list[OutboundMessage] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    visited_steps: list[str] = field(default_factory=list)
    connect_to: str | None = None
    input_rejected: bool = False
    error: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    handoff_reason: str | None = None
