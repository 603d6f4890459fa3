"""What every step type shares: the ids and names steps use, the base models, and the
``next`` and timer exits (see :mod:`.steps` for the step types themselves)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from .durations import duration_seconds
from .fields import VARIABLE_NAME

StepId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")]
VariableName = Annotated[str, StringConstraints(pattern=VARIABLE_NAME)]
Text = Annotated[str, StringConstraints(min_length=1)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A title shown on a button or row: trimmed, never blank."""
Edge = tuple[str, str | None]
"""(field path, target step id or None) — one way out of a step."""


class StepBase(BaseModel):
    """Fields every step has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: StepId
    position: dict[str, Any] | None = None

    waits: ClassVar[bool] = False
    """True when the step stops the run to wait for the customer, an agent or an effect."""

    def edges(self) -> list[Edge]:
        """Every way out of this step, with the field that names it."""
        return []


class NextStep(StepBase):
    """A step that continues at ``next`` (or ends the flow when it has none)."""

    next: StepId | None = None

    def edges(self) -> list[Edge]:
        """The single ``next`` edge."""
        return [("next", self.next)]


class TimedWait(BaseModel):
    """A wait that may run out: after ``timeout`` without an answer, go to ``on_timeout``.

    ``timeout`` is seconds (``90``) or a duration text (``30s``, ``30m``, ``2h``, ``1d``),
    kept as written; both fields go together (see :mod:`.graph_checks`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: int | float | str | None = None
    on_timeout: StepId | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _readable_duration(cls, value: Any) -> Any:
        if value is not None:
            duration_seconds(value)
        return value

    @property
    def timeout_seconds(self) -> float | None:
        """The timeout in seconds, or None when the step has none."""
        return None if self.timeout is None else duration_seconds(self.timeout)

    def timer_edges(self) -> list[Edge]:
        """The ``on_timeout`` edge, when there is one."""
        return [] if self.on_timeout is None else [("on_timeout", self.on_timeout)]
