"""A template's ``workflow_dependencies`` and ``end_action_type``: their shape and checks.

A dependency is an HTTP call that must succeed before an instance may complete::

    - name: kyc
      url: https://kyc.example.com/checks
      method: POST
      headers: {Authorization: "Bearer {{kyc_token}}"}
      body: {amount: "{{amount}}", phone: "{{contact.phone}}"}
      save_as: kyc_result          # the answer is stored in state_data
      on_failure: retry            # retry (with backoff) | fail | goto:<step>
      max_attempts: 5
      wait_for_callback: false     # true: an outside system resolves it later through
                                   # POST /api/workflows/{id}/dependencies/kyc

``url`` may be left out when ``wait_for_callback`` is true (nothing to call, only wait).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from convoflow.engine import Problem, limits
from convoflow.engine.problems import problems_from_validation_error

DependencyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
END_ACTION_TYPES = ("api_call",)
#: How many attempts a dependency gets when it does not say (``retry`` retries, others not).
DEFAULT_RETRY_ATTEMPTS = 5
ON_FAILURE_PATTERN = r"^(retry|fail|goto:[A-Za-z0-9_][A-Za-z0-9_-]{0,99})$"
GOTO = "goto:"


class WorkflowDependency(BaseModel):
    """One dependency of a template (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: DependencyName
    url: str | None = Field(default=None, pattern=r"^(https?://|\{\{)")
    method: HttpMethod = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    save_as: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    on_failure: str = Field(
        default="retry", pattern=r"^(retry|fail|goto:[A-Za-z0-9_][A-Za-z0-9_-]{0,99})$"
    )
    max_attempts: int | None = Field(default=None, ge=1, le=10)
    timeout: float = Field(default=10.0, gt=0, le=120)
    wait_for_callback: bool = False
    success_message: str | None = Field(default=None, max_length=limits.TEXT_BODY)
    failure_message: str | None = Field(default=None, max_length=limits.TEXT_BODY)

    @property
    def attempts(self) -> int:
        """How many times the call is tried before the failure counts."""
        if self.max_attempts is not None:
            return self.max_attempts
        return DEFAULT_RETRY_ATTEMPTS if self.on_failure == "retry" else 1

    @property
    def goto_step(self) -> str | None:
        """The step to go to on failure (``goto:<step>``), else None."""
        return (
            self.on_failure.removeprefix("goto:") if self.on_failure.startswith("goto:") else None
        )


def parse_dependencies(raw: Any) -> list[WorkflowDependency]:
    """The dependencies of a stored (already checked) template."""
    return [WorkflowDependency.model_validate(item) for item in raw or []]


def dependency_problems(raw: Any, step_ids: Collection[str]) -> list[Problem]:
    """What is wrong with ``workflow_dependencies`` (field paths name the item)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [Problem("", "workflow_dependencies", "must be a list of dependencies")]
    problems: list[Problem] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        where = f"workflow_dependencies[{index}]"
        try:
            dependency = WorkflowDependency.model_validate(item)
        except ValidationError as error:
            problems += problems_from_validation_error(error, prefix=where)
            continue
        if dependency.name in names:
            problems.append(Problem("", f"{where}.name", f"duplicate name {dependency.name!r}"))
        names.add(dependency.name)
        if dependency.url is None and not dependency.wait_for_callback:
            message = "required unless wait_for_callback is true"
            problems.append(Problem("", f"{where}.url", message))
        goto = dependency.goto_step
        if goto is not None and goto not in step_ids:
            problems.append(
                Problem(goto, f"{where}.on_failure", "goes to a step that does not exist")
            )
    return problems


def end_action_problems(action_type: str | None) -> list[Problem]:
    """An end action type the job runner does not know (its target is the engine's check)."""
    if action_type is None or action_type in END_ACTION_TYPES:
        return []
    message = f"unknown end action; expected one of {', '.join(END_ACTION_TYPES)} or null"
    return [Problem("", "end_action_type", message)]
