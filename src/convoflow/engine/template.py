"""The template the engine runs: the step graph plus the template-level settings.

Build it with :meth:`Template.from_parts` from a database row, or with
:func:`convoflow.engine.validation.load_template` from an admin's document (which also
checks the graph). Construction precomputes everything :func:`advance` needs (step index,
option tables, retry limits), so services build one per ``config_hash`` and reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .ai_template import (
    LLM_PARAMS_KEY,
    LlmParams,
    WorkflowType,
    ai_conversation_graph,
    is_ai_conversation,
    llm_params_of,
)
from .compiled import CompiledTemplate, Sections, compile_template
from .fields import FieldSpec
from .menus import Menu
from .problems import Problem, TemplateInvalid, error_message, field_path
from .step_base import VariableName
from .steps import Step

GRAPH_SETTINGS = ("max_retries", "reengagement_template", "texts", "cancel_keywords")
"""Optional template-level keys read from ``menu_structure`` next to ``start`` and ``steps``."""


class EngineTexts(BaseModel):
    """What the engine says on its own; override any of them in ``menu_structure.texts``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invalid_choice: str = "Sorry, I didn't get that. Please choose one of the options."
    text_expected: str = "Please type your answer as a message."
    failed: str = "Sorry, I couldn't understand, so I've stopped here. Write to us any time."
    cancelled: str = "OK, I've cancelled. Write to us again any time."
    effect_failed: str = "Sorry, something went wrong on our side. Please try again later."
    busy: str = "One moment please, I'm still working on your request."
    ai_fallback: str = "Sorry, I can't answer right now. A member of our team will get back to you."
    summary: str = "Please check your details:"
    confirm: str = "Confirm"
    change: str = "Change"
    change_request: str = "I want to change something."


class Template(BaseModel):
    """A validated, ready-to-run workflow template (one version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    start: str
    steps: tuple[Step, ...]
    state_schema: dict[VariableName, FieldSpec] = Field(default_factory=dict)
    end_action_type: str | None = None
    end_action_target: dict[str, Any] | None = None
    default_params: dict[str, Any] = Field(default_factory=dict)
    max_retries: int = Field(default=3, ge=0, le=20)
    reengagement_template: str | None = None
    texts: EngineTexts = EngineTexts()
    cancel_keywords: tuple[str, ...] = ("cancel", "stop")
    guidelines: str | None = None
    workflow_type: WorkflowType = "plain"
    required_tools: tuple[str, ...] = ()
    required_retrievers: tuple[str, ...] = ()
    llm: LlmParams = LlmParams()

    def model_post_init(self, context: Any, /) -> None:
        """Precompute the step index, option tables and retry limits now, not on first use."""
        _ = self.compiled

    @cached_property
    def compiled(self) -> CompiledTemplate:
        """The precomputed look-up tables :func:`advance` runs on.

        A cached property (a plain instance attribute once computed) because pydantic's
        private attributes cost a ``__getattr__`` call on every access.
        """
        return compile_template(
            self.steps, self.state_schema, self.max_retries, self.cancel_keywords
        )

    @property
    def steps_by_id(self) -> Mapping[str, Step]:
        """Every step by id (O(1) look-up)."""
        return self.compiled.index

    def step(self, step_id: str | None) -> Step | None:
        """The step called ``step_id``, or None."""
        return self.compiled.step(step_id)

    def menu(self, step_id: str) -> Menu | None:
        """The options of a buttons, list, or choice/boolean ask step."""
        return self.compiled.menus.get(step_id)

    def list_sections(self, step_id: str) -> Sections:
        """The (title, options) sections of a list step."""
        return self.compiled.sections.get(step_id, ())

    def collect_fields(self, step_id: str) -> tuple[str, ...]:
        """The schema fields a collect step asks for, in order."""
        return self.compiled.collect_fields.get(step_id, ())

    def retries_allowed(self, step_id: str) -> int:
        """How many invalid answers a waiting step re-asks before giving up."""
        return self.compiled.retries.get(step_id, self.max_retries)

    def is_cancel(self, text: str) -> bool:
        """Whether a reply is one of the cancel keywords (``cancel``, ``stop``)."""
        return self.compiled.is_cancel(text)

    @classmethod
    def from_parts(
        cls,
        *,
        name: str,
        menu_structure: Mapping[str, Any],
        version: int = 1,
        state_schema: Mapping[str, Any] | None = None,
        end_action_type: str | None = None,
        end_action_target: Mapping[str, Any] | None = None,
        default_params: Mapping[str, Any] | None = None,
        guidelines: str | None = None,
        workflow_type: str = "plain",
        required_tools: Sequence[str] = (),
        required_retrievers: Sequence[str] = (),
    ) -> Template:
        """Build from a template row: the native graph plus the row's columns.

        A template with ``guidelines`` and no steps runs as an AI conversation (see
        :mod:`.ai_template`). Raises :class:`TemplateInvalid` when the parts do not even
        parse; graph checks (dangling ``next``, limits, ...) are
        :func:`validation.validate_template`'s job.
        """
        params = dict(default_params or {})
        llm = _llm_params(params)
        if is_ai_conversation(menu_structure, guidelines):
            menu_structure = ai_conversation_graph(
                state_schema=state_schema or {},
                llm=llm,
                workflow_type=workflow_type,
                required_tools=required_tools,
                required_retrievers=required_retrievers,
            )
        data: dict[str, Any] = {
            key: menu_structure[key] for key in GRAPH_SETTINGS if key in menu_structure
        }
        data.update(
            name=name,
            version=version,
            start=menu_structure.get("start"),
            steps=menu_structure.get("steps"),
            state_schema=dict(state_schema or {}),
            end_action_type=end_action_type,
            end_action_target=dict(end_action_target) if end_action_target else None,
            default_params=params,
            guidelines=guidelines or None,
            workflow_type=workflow_type,
            required_tools=tuple(required_tools),
            required_retrievers=tuple(required_retrievers),
            llm=llm,
        )
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise TemplateInvalid(_template_problems(error, data)) from None

    def to_graph(self) -> dict[str, Any]:
        """The native graph (``menu_structure``) of this template, without default values."""
        graph: dict[str, Any] = {
            "start": self.start,
            "steps": [_step_graph(step) for step in self.steps],
        }
        settings = self.model_dump(mode="json", include=set(GRAPH_SETTINGS), exclude_defaults=True)
        graph.update(settings)
        return graph


def _llm_params(default_params: Mapping[str, Any]) -> LlmParams:
    """``default_params.llm`` checked, each problem named by its path."""
    try:
        return LlmParams.model_validate(llm_params_of(default_params))
    except ValidationError as error:
        problems = [
            Problem(
                "",
                field_path(("default_params", LLM_PARAMS_KEY, *detail["loc"])),
                error_message(detail),
            )
            for detail in error.errors()
        ]
        raise TemplateInvalid(problems) from None


def _step_graph(step: Step) -> dict[str, Any]:
    """One step as native JSON: ``id`` and ``type`` first, defaults left out."""
    dumped = step.model_dump(mode="json", exclude_defaults=True)
    return {"id": step.id, "type": step.type, **dumped}


def _template_problems(error: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    """Name the step (by id) for errors inside ``steps``, dropping the union tag."""
    raw_steps = data.get("steps")
    problems: list[Problem] = []
    for detail in error.errors():
        location = detail["loc"]
        step_index = location[1] if len(location) > 1 and location[0] == "steps" else None
        if not isinstance(step_index, int) or not isinstance(raw_steps, list):
            problems.append(Problem("", field_path(location), error_message(detail)))
            continue
        raw = raw_steps[step_index] if step_index < len(raw_steps) else None
        raw = raw if isinstance(raw, dict) else {}
        rest = location[2:]
        if rest and rest[0] == raw.get("type"):
            rest = rest[1:]
        step_id = str(raw.get("id", f"steps[{step_index}]"))
        problems.append(Problem(step_id, field_path(rest), error_message(detail)))
    return problems
