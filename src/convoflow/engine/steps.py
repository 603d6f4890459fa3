"""The step types of a template graph (DESIGN §3), as pydantic models discriminated on ``type``.

Every step has an ``id`` and may carry the builder's canvas ``position``. A missing ``next``
ends the flow (as if an ``end`` step without text followed). Steps that wait for the
customer (:data:`WAITING_TYPES`) may set ``max_retries``; the template's value applies
otherwise. The steps that wait for a person (:data:`TIMED_TYPES`) may also set a
``timeout`` and the step to go to when it passes, ``on_timeout``. Size limits are not
enforced here but by :mod:`.validation` (with WhatsApp's numbers in the message) and
defensively when messages are built. The shared bases are in :mod:`.step_base`, the AI
steps in :mod:`.ai_steps`; this module draws the union of them all.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from . import limits
from .ai_steps import AI_TYPES, AiClassifyStep, AiExtractStep, AiReplyStep
from .fields import AnswerRules, InputType
from .step_base import (
    Edge,
    Label,
    NextStep,
    StepBase,
    StepId,
    Text,
    TimedWait,
    VariableName,
)


class MessageStep(NextStep):
    """Send a text message."""

    type: Literal["message"]
    text: Text
    preview_url: bool = False


class ButtonOption(BaseModel):
    """A reply button: ``id`` is sent back when tapped, ``label`` is shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=limits.OPTION_ID)]
    label: Label
    next: StepId | None = None


class InteractiveStep(StepBase, TimedWait):
    """Fields shared by the menus the customer answers by tapping."""

    text: Text
    header: str | None = None
    footer: str | None = None
    save_as: VariableName | None = None
    max_retries: int | None = Field(default=None, ge=0, le=20)

    waits: ClassVar[bool] = True

    @property
    def variable(self) -> str:
        """Where the chosen option's id is stored (``save_as``, else the step id)."""
        return self.save_as or self.id


class ButtonsStep(InteractiveStep):
    """A menu of 1–3 reply buttons; 4–10 options are sent as a list opened by ``button``."""

    type: Literal["buttons"]
    buttons: list[ButtonOption] = Field(min_length=1)
    button: Label = "Options"

    def edges(self) -> list[Edge]:
        """One edge per button, then ``on_timeout``."""
        options = [(f"buttons[{i}].next", option.next) for i, option in enumerate(self.buttons)]
        return [*options, *self.timer_edges()]


class ListRow(BaseModel):
    """A row of a list message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=limits.ROW_ID)]
    title: Label
    description: str | None = None
    next: StepId | None = None


class ListSection(BaseModel):
    """A titled group of rows (the title is required when a list has several sections)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str | None = None
    rows: list[ListRow] = Field(min_length=1)


class ListStep(InteractiveStep):
    """A list message: ``button`` opens it, rows are grouped in ``sections``."""

    type: Literal["list"]
    button: Label
    sections: list[ListSection] = Field(min_length=1)

    def edges(self) -> list[Edge]:
        """One edge per row, then ``on_timeout``."""
        rows = [
            (f"sections[{s}].rows[{r}].next", row.next)
            for s, section in enumerate(self.sections)
            for r, row in enumerate(section.rows)
        ]
        return [*rows, *self.timer_edges()]


class MediaStep(NextStep):
    """Send an image, video, audio or document, by ``url`` or uploaded ``media_id``.

    WhatsApp shows no caption under audio, so an audio step's caption follows as a text.
    """

    type: Literal["image", "video", "audio", "document"]
    url: str | None = None
    media_id: str | None = None
    caption: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> MediaStep:
        if (self.url is None) == (self.media_id is None):
            raise ValueError("give exactly one of url or media_id")
        if self.url is not None and not self.url.startswith(("http://", "https://", "{{")):
            raise ValueError("url must start with http:// or https:// (or be a {{variable}})")
        if self.filename is not None and self.type != "document":
            raise ValueError("filename is only allowed for documents")
        return self


class TemplateStep(NextStep):
    """Send an approved WhatsApp template (the only message allowed outside the 24-hour window).

    ``components`` is the Graph API list (strings inside are rendered); ``parameters`` is a
    shorthand for the body's positional text parameters.
    """

    type: Literal["template"]
    name: Annotated[str, StringConstraints(pattern=limits.TEMPLATE_NAME_PATTERN)]
    language: Annotated[str, StringConstraints(min_length=2, max_length=20)] = "en_US"
    components: list[dict[str, Any]] = Field(default_factory=list)
    parameters: list[str] = Field(default_factory=list)


class AskStep(NextStep, AnswerRules, TimedWait):
    """Ask one typed question and store the answer under ``field``.

    ``input`` is the answer type; ``options``, ``pattern``, ``min``, ``max`` and ``error``
    refine it (see :mod:`.fields`).
    """

    type: Literal["ask"]
    field: VariableName
    prompt: Text
    input: InputType = "string"
    max_retries: int | None = Field(default=None, ge=0, le=20)

    waits: ClassVar[bool] = True

    def _input_kind(self) -> str:
        return self.input

    def edges(self) -> list[Edge]:
        """``next``, then ``on_timeout``."""
        return [*super().edges(), *self.timer_edges()]


class CollectStep(NextStep, TimedWait):
    """Ask, in turn, each missing field of the template's ``state_schema``.

    ``fields`` limits and orders the fields (default: every required field, in schema
    order); ``intro`` is sent once before the first question.
    """

    type: Literal["collect"]
    fields: list[VariableName] | None = None
    intro: str | None = None
    max_retries: int | None = Field(default=None, ge=0, le=20)

    waits: ClassVar[bool] = True

    def edges(self) -> list[Edge]:
        """``next``, then ``on_timeout``."""
        return [*super().edges(), *self.timer_edges()]


ConditionOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "exists", "matches"]


class ConditionBranch(BaseModel):
    """``if <var> <op> <value>: go to next``; ``value`` strings may use ``{{variables}}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    var: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")]
    op: ConditionOp = "eq"
    value: Any = None
    next: StepId | None = None

    @model_validator(mode="after")
    def _check_value(self) -> ConditionBranch:
        if self.op == "matches":
            if not isinstance(self.value, str):
                raise ValueError("matches needs a regular expression as value")
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("in needs a list as value")
        return self


class ConditionStep(StepBase):
    """Go to the ``next`` of the first branch that holds, else to ``default``."""

    type: Literal["condition"]
    branches: list[ConditionBranch] = Field(default_factory=list)
    default: StepId | None = None

    def edges(self) -> list[Edge]:
        """One edge per branch, then the default."""
        branches = [(f"branches[{i}].next", b.next) for i, b in enumerate(self.branches)]
        return [*branches, ("default", self.default)]


class SetStep(NextStep):
    """Assign variables; string values may use ``{{variables}}``."""

    type: Literal["set"]
    values: dict[VariableName, Any] = Field(min_length=1)


class HttpStep(NextStep):
    """Call an outside API (a workflow dependency); the instance waits for the result.

    On success the response data is stored under ``save_as`` and the flow goes on at
    ``next``; on failure it goes to ``on_failure``, or fails when there is none.
    """

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: Text
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    save_as: VariableName | None = None
    on_failure: StepId | None = None
    max_attempts: int = Field(default=3, ge=1, le=10)
    timeout: float = Field(default=10.0, gt=0, le=120)

    waits: ClassVar[bool] = True

    def edges(self) -> list[Edge]:
        """``next`` and, if set, ``on_failure``."""
        edges = [("next", self.next)]
        if self.on_failure is not None:
            edges.append(("on_failure", self.on_failure))
        return edges


class ConnectStep(StepBase):
    """Continue in another template, carrying the variables over."""

    type: Literal["connect"]
    template: Text


class HandoffStep(NextStep, TimedWait):
    """Send ``text`` and pause the bot until a human agent releases the conversation.

    ``reason`` tells the agent why (``{{variables}}`` allowed; default: the step's id).
    A ``timeout`` here runs out when no agent released the conversation in time.
    """

    type: Literal["handoff"]
    text: Text = "A member of our team will reply here shortly."
    reason: (
        Annotated[str, StringConstraints(min_length=1, max_length=limits.HANDOFF_REASON)] | None
    ) = None

    waits: ClassVar[bool] = True

    def edges(self) -> list[Edge]:
        """``next``, then ``on_timeout``."""
        return [*super().edges(), *self.timer_edges()]


class EndStep(StepBase):
    """Finish the flow: send ``text`` (if any) and run the template's end action.

    ``end_action: false`` skips the end action (an "abandoned" ending, say).
    """

    type: Literal["end"]
    text: str | None = None
    end_action: bool = True


Step = Annotated[
    MessageStep
    | ButtonsStep
    | ListStep
    | MediaStep
    | TemplateStep
    | AskStep
    | CollectStep
    | ConditionStep
    | SetStep
    | HttpStep
    | ConnectStep
    | HandoffStep
    | EndStep
    | AiExtractStep
    | AiReplyStep
    | AiClassifyStep,
    Field(discriminator="type"),
]
"""Any step, chosen by its ``type``."""

STEP_TYPES: tuple[str, ...] = (
    "message",
    "buttons",
    "list",
    "image",
    "video",
    "audio",
    "document",
    "template",
    "ask",
    "collect",
    "condition",
    "set",
    "http",
    "connect",
    "handoff",
    "end",
    "ai_extract",
    "ai_reply",
    "ai_classify",
)
MEDIA_TYPES = frozenset({"image", "video", "audio", "document"})
WAITING_TYPES = frozenset({"buttons", "list", "ask", "collect", "handoff", "http"}) | AI_TYPES
TIMED_TYPES = frozenset({"buttons", "list", "ask", "collect", "handoff"})
"""Steps that wait for a person and so may set ``timeout``/``on_timeout`` (not ``http``,
whose ``timeout`` bounds its request)."""
