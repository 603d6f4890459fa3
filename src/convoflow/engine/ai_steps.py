"""The AI step types: ``ai_extract``, ``ai_reply`` and ``ai_classify`` (run by :mod:`.ai_run`).

Each model turn of these steps runs in the background as an ``llm`` effect; the step
waits for its result like an ``http`` step.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .fields import FieldSpec
from .step_base import Edge, NextStep, StepBase, StepId, VariableName


class AiStep(StepBase):
    """Fields shared by the AI steps: a model turn runs in the background (an ``llm`` effect).

    ``guidelines`` follow the template's own guidelines in the model's instructions;
    ``knowledge_bases`` and ``tools`` name what the model may use (by name, checked by the
    API against the owner's and the template's ``workflow_type``); ``max_turns`` bounds the
    model turns of one visit. When it is used up, or the model cannot be used (no provider,
    token or cost limit), the step goes to ``on_failure``; without one the customer gets the
    fallback text and the conversation is handed to a person.
    """

    guidelines: str | None = None
    knowledge_bases: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list
    )
    tools: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)
    max_turns: int = Field(default=5, ge=1, le=100)
    on_failure: StepId | None = None

    waits: ClassVar[bool] = True


class AiExtractStep(AiStep, NextStep):
    """Extract typed ``fields`` from the customer's messages into variables.

    The model may ask follow-up questions (up to ``max_turns``); once every required field
    holds a valid value it goes on at ``next``.
    """

    type: Literal["ai_extract"]
    fields: dict[VariableName, FieldSpec] = Field(min_length=1)

    def edges(self) -> list[Edge]:
        """``next``, then ``on_failure``."""
        return [*super().edges(), ("on_failure", self.on_failure)]


class AiReplyStep(AiStep, NextStep):
    """A multi-turn exchange with the model until it calls ``finish`` (then ``next``).

    ``fields`` (optional) are filled as in :class:`AiExtractStep`; with ``confirm`` the
    engine shows a summary with Confirm and Change buttons before going on. ``handoff``
    goes to ``on_handoff``, or hands the conversation to a person at this step.
    """

    type: Literal["ai_reply"]
    fields: dict[VariableName, FieldSpec] = Field(default_factory=dict)
    confirm: bool = False
    on_handoff: StepId | None = None

    def edges(self) -> list[Edge]:
        """``next``, ``on_handoff``, then ``on_failure``."""
        return [
            *super().edges(),
            ("on_handoff", self.on_handoff),
            ("on_failure", self.on_failure),
        ]


class ClassifyCategory(BaseModel):
    """One category of an ``ai_classify`` step: its id, what it means, where it leads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")]
    description: str = ""
    next: StepId | None = None

    @field_validator("id")
    @classmethod
    def _not_other(cls, value: str) -> str:
        if value == "other":
            raise ValueError("'other' is always a category: use the step's `other` exit")
        return value


class AiClassifyStep(AiStep):
    """Put the customer's message in one of ``categories`` (or ``other``).

    The category id is stored under ``save_as`` (else the step id) and the run goes on at
    the category's ``next``; ``other`` goes to ``other``; no category after ``max_turns``
    goes to ``on_failure``.
    """

    type: Literal["ai_classify"]
    categories: list[ClassifyCategory] = Field(min_length=1)
    other: StepId | None = None
    save_as: VariableName | None = None

    @property
    def variable(self) -> str:
        """Where the chosen category's id is stored (``save_as``, else the step id)."""
        return self.save_as or self.id

    @model_validator(mode="after")
    def _distinct_categories(self) -> AiClassifyStep:
        ids = [category.id for category in self.categories]
        if len(set(ids)) != len(ids):
            raise ValueError("category ids must differ")
        return self

    def edges(self) -> list[Edge]:
        """One edge per category, then ``other`` and ``on_failure``."""
        categories = [(f"categories[{i}].next", c.next) for i, c in enumerate(self.categories)]
        return [*categories, ("other", self.other), ("on_failure", self.on_failure)]


AI_STEP_CLASSES = (AiExtractStep, AiReplyStep, AiClassifyStep)
"""The steps that call the model."""

AI_TYPES = frozenset({"ai_extract", "ai_reply", "ai_classify"})
