"""The builder's requests and responses: step types, drafts, version history, variables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from convoflow.api.schemas.common import ErrorDetail
from convoflow.engine import Problem
from convoflow.engine.catalog import StepTypeSpec
from convoflow.engine.variables import Variable
from convoflow.services.templates.diff import FieldChange, StepChange
from convoflow.services.templates.drafts import DraftView
from convoflow.services.templates.history import VersionDiff
from convoflow.services.templates.limits import CHANGELOG_MAX_CHARS
from convoflow.services.templates.variables import VariableHints


class StepExitOut(BaseModel):
    """One kind of edge out of a step type, derived from one step-id field."""

    field: str = Field(
        description="The step-id field, `[]` marking each list it repeats in: `next`, "
        "`buttons[].next`, `sections[].rows[].next`, `branches[].next`, `default`, "
        "`on_timeout`, `on_failure`."
    )
    kind: str = Field(description="`next`, `option`, `default`, `timeout` or `failure`.")
    repeated: str | None = Field(
        description="The list the exit repeats for (`buttons`, `sections[].rows`, "
        "`branches`): one edge per item; null for a single edge."
    )


class StepTypeOut(BaseModel):
    """A step type: its form (JSON Schema), its exits and WhatsApp's limits on its fields."""

    model_config = ConfigDict(populate_by_name=True)

    type: str
    title: str
    description: str
    json_schema: dict[str, Any] = Field(
        alias="schema", description="JSON Schema of the step's fields (pydantic's)."
    )
    exits: list[StepExitOut]
    limits: dict[str, int] = Field(description="WhatsApp's limits on the step's fields.")
    waits: bool = Field(description="The step stops the run to wait (customer, agent, effect).")
    timed: bool = Field(description="The step may set `timeout` and `on_timeout`.")

    @classmethod
    def of(cls, spec: StepTypeSpec) -> StepTypeOut:
        """Build from the engine's description."""
        return cls(
            type=spec.type,
            title=spec.title,
            description=spec.description,
            json_schema=spec.schema,
            exits=[
                StepExitOut(field=e.field, kind=e.kind, repeated=e.repeated) for e in spec.exits
            ],
            limits=spec.limits,
            waits=spec.waits,
            timed=spec.timed,
        )


class StepTypeList(BaseModel):
    """Every step type the engine runs."""

    items: list[StepTypeOut]


def problem_details(problems: list[Problem]) -> list[ErrorDetail]:
    """Template problems in the shape of an error's details."""
    return [ErrorDetail(**problem.to_json()) for problem in problems]


class DraftOut(BaseModel):
    """A template's working copy: the saved draft, or the latest version when none."""

    template_id: str = Field(description="The latest version's id.")
    family_id: str
    version: int = Field(description="The latest version's number.")
    has_draft: bool
    based_on_version: int | None = Field(description="The version the draft was saved over.")
    document: dict[str, Any] = Field(
        description="The body `PUT /api/workflow-templates/{id}` takes, positions included."
    )
    problems: list[ErrorDetail] = Field(description="What publishing it would refuse.")
    valid: bool
    updated_at: datetime | None
    updated_by: str | None = Field(description="Who saved the draft last (user name).")

    @classmethod
    def of(cls, view: DraftView) -> DraftOut:
        """Build from the service's view."""
        draft = view.draft
        return cls(
            template_id=view.latest.id,
            family_id=view.latest.family_id,
            version=view.latest.version,
            has_draft=draft is not None,
            based_on_version=draft.based_on_version if draft else None,
            document=view.document,
            problems=problem_details(view.problems),
            valid=not view.problems,
            updated_at=draft.updated_at if draft else None,
            updated_by=view.updated_by,
        )


class PublishIn(BaseModel):
    """What the new version changes, for the history."""

    model_config = ConfigDict(extra="forbid")

    changelog: str = Field(min_length=1, max_length=CHANGELOG_MAX_CHARS)


class FieldChangeOut(BaseModel):
    """A field with its value before and after."""

    field: str
    before: Any
    after: Any

    @classmethod
    def of(cls, change: FieldChange) -> FieldChangeOut:
        """Build from the service's change."""
        return cls(field=change.field, before=change.before, after=change.after)


class StepChangeOut(BaseModel):
    """A step present in both versions, with the fields that differ."""

    id: str
    type: str | None
    moved_only: bool = Field(description="Only its canvas position changed.")
    changes: list[FieldChangeOut]

    @classmethod
    def of(cls, change: StepChange) -> StepChangeOut:
        """Build from the service's change."""
        return cls(
            id=change.id,
            type=change.type,
            moved_only=change.moved_only,
            changes=[FieldChangeOut.of(item) for item in change.changes],
        )


class StepsDiffOut(BaseModel):
    """Steps added, removed (whole steps) and changed (field by field)."""

    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[StepChangeOut]


class VersionDiffOut(BaseModel):
    """What changed from version `against` to version `version`."""

    version: int
    against: int | None = Field(description="null: compared with nothing (version 1).")
    summary: str
    fields: list[FieldChangeOut] = Field(
        description="Template fields and graph settings (`menu_structure.start`) changed."
    )
    steps: StepsDiffOut

    @classmethod
    def of(cls, compared: VersionDiff) -> VersionDiffOut:
        """Build from the service's comparison."""
        diff = compared.diff
        return cls(
            version=compared.version,
            against=compared.against,
            summary=diff.summary,
            fields=[FieldChangeOut.of(change) for change in diff.fields],
            steps=StepsDiffOut(
                added=diff.steps_added,
                removed=diff.steps_removed,
                changed=[StepChangeOut.of(change) for change in diff.steps_changed],
            ),
        )


class VariableOut(BaseModel):
    """A `{{variable}}` a step may use."""

    name: str
    source: str = Field(description="`contact`, `default_params`, `state_schema` or `step`.")
    set_by: str | None = Field(description="The step that sets it (source `step`).")

    @classmethod
    def of(cls, variable: Variable) -> VariableOut:
        """Build from the engine's variable."""
        return cls(name=variable.name, source=variable.source, set_by=variable.set_by)


class StepVariablesOut(BaseModel):
    """Everything one step may use: the common variables, then those set before it."""

    step: str
    variables: list[VariableOut]


class VariablesOut(BaseModel):
    """The `{{variable}}` hints of a template version or of its draft."""

    template_id: str
    from_draft: bool
    common: list[VariableOut] = Field(description="What every step may use.")
    steps: list[StepVariablesOut]

    @classmethod
    def of(cls, hints: VariableHints) -> VariablesOut:
        """Build from the service's hints."""
        return cls(
            template_id=hints.template_id,
            from_draft=hints.from_draft,
            common=[VariableOut.of(variable) for variable in hints.common],
            steps=[
                StepVariablesOut(step=step, variables=[VariableOut.of(v) for v in variables])
                for step, variables in hints.steps.items()
            ],
        )
