"""Building a model turn and turning its answer into messages (pure helpers of :mod:`.ai_run`).

:func:`llm_turn` builds the :class:`~.outcome.LlmTurn` effect an AI step emits; the
service that runs it answers with a JSON object (the ``data`` of the effect result)::

    {"outcome": "ok",            # ok | fallback (the model failed: say the fallback text)
                                 # | limit | unavailable (stop using the model)
     "text": "How much?",        # what the model said (its message content, or `reply`)
     "choices": ["A", "B"],      # `reply` choices: buttons (3 or fewer) or a list (10)
     "fields": {"amount": 40000},# values `set_fields` accepted (checked again here)
     "finished": true,           # `finish` with every required field valid
     "handoff": "reason",        # `handoff` was called (else absent or null)
     "category": "billing",      # `classify` (ai_classify only)
     "heard": 2,                 # held customer messages the turn read (ai_memory pending)
     "error": "..."}             # why, for outcomes other than ok
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import limits, messages
from .ai_steps import AiClassifyStep, AiExtractStep, AiReplyStep, AiStep
from .answers import coerce_value
from .fields import FieldSpec
from .menus import MenuOption
from .outcome import LlmTurn
from .render import to_text
from .template import Template

AiStepModel = AiExtractStep | AiReplyStep | AiClassifyStep
CONFIRM_ID, CHANGE_ID = "confirm", "change"


def guidelines_of(template: Template, step: AiStep) -> str:
    """The template's guidelines, then the step's own."""
    parts = [template.guidelines or "", step.guidelines or ""]
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def fields_of(step: AiStep) -> Mapping[str, FieldSpec]:
    """The typed fields the model may set at ``step``."""
    if isinstance(step, AiExtractStep | AiReplyStep):
        return step.fields
    return {}


def llm_turn(
    template: Template,
    step: AiStepModel,
    variables: Mapping[str, Any],
    memory: Mapping[str, Any],
    effect_id: str,
) -> LlmTurn:
    """The effect that asks the model for the next turn at ``step``."""
    fields = fields_of(step)
    categories: list[dict[str, str]] = []
    if isinstance(step, AiClassifyStep):
        categories = [{"id": c.id, "description": c.description} for c in step.categories]
    return LlmTurn(
        effect_id=effect_id,
        step_id=step.id,
        mode=step.type,
        guidelines=guidelines_of(template, step),
        fields={
            name: spec.model_dump(mode="json", exclude_defaults=True, exclude={"required"})
            | {"required": spec.required}
            for name, spec in fields.items()
        },
        values={name: variables[name] for name in fields if variables.get(name) not in (None, "")},
        transcript=[dict(entry) for entry in memory.get("transcript") or []],
        tools=list(step.tools),
        knowledge_bases=list(step.knowledge_bases),
        categories=categories,
        llm=template.llm.model_dump(mode="json", exclude_none=True),
        confirm=isinstance(step, AiReplyStep) and step.confirm,
    )


def accept_fields(step: AiStep, variables: dict[str, Any], values: Any) -> None:
    """Store the values the model set that pass the fields' typed validation (again: the
    engine never trusts what it is handed)."""
    if not isinstance(values, Mapping):
        return
    fields = fields_of(step)
    for name, value in values.items():
        spec = fields.get(str(name))
        if spec is None or value is None:
            continue
        parsed = coerce_value(spec, value)
        if parsed.error is None:
            variables[str(name)] = parsed.value


def missing_fields(step: AiStep, variables: Mapping[str, Any]) -> list[str]:
    """The required fields of ``step`` that hold no value yet."""
    return [
        name
        for name, spec in fields_of(step).items()
        if spec.required and variables.get(name) in (None, "")
    ]


#: Where a long answer is best cut, in order of preference: a paragraph, a line, a
#: sentence, a word (the cut comes after the separator's first character).
_CUTS = ("\n\n", "\n", ". ", " ")


def split_text(text: str, limit: int = limits.TEXT_BODY) -> list[str]:
    """Cut a long answer into messages of at most ``limit`` characters: at the last
    paragraph end of the second half of each message, else a line end, a sentence end or
    a space there, else at the limit."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = next(
            (
                found + 1
                for separator in _CUTS
                if (found := window.rfind(separator)) + 1 >= limit // 2
            ),
            limit,
        )
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


def reply_messages(text: str, choices: Any) -> list[dict[str, Any]]:
    """The model's answer as messages: long text split, choices as buttons or a list."""
    labels = _choices(choices)
    if not labels:
        return [body for part in split_text(text) if (body := messages.text_message(part))]
    bodies: list[dict[str, Any]] = []
    parts = split_text(text)
    if parts and len(parts[-1]) > limits.INTERACTIVE_BODY:
        parts.append("")
    for part in parts[:-1]:
        if body := messages.text_message(part):
            bodies.append(body)
    options = [MenuOption(label[: limits.ROW_ID], label) for label in labels]
    bodies.append(messages.menu_message(parts[-1] if parts else "", options))
    return bodies


def _choices(choices: Any) -> list[str]:
    if not isinstance(choices, list):
        return []
    labels: list[str] = []
    for choice in choices:
        label = str(choice).strip()
        if label and label not in labels:
            labels.append(label)
    return labels[: limits.LIST_ROWS]


def summary_message(
    template: Template, step: AiStep, variables: Mapping[str, Any]
) -> dict[str, Any]:
    """The engine's summary of the collected fields, with Confirm and Change buttons."""
    lines = [template.texts.summary]
    for name, spec in fields_of(step).items():
        value = variables.get(name)
        if value in (None, ""):
            continue
        shown = _option_label(spec, value)
        lines.append(f"• {spec.label or name.replace('_', ' ').capitalize()}: {shown}")
    options = [
        MenuOption(CONFIRM_ID, template.texts.confirm),
        MenuOption(CHANGE_ID, template.texts.change),
    ]
    return messages.reply_buttons_message("\n".join(lines), options)


def _option_label(spec: FieldSpec, value: Any) -> str:
    """A choice field's value shown by its option's label; anything else as text."""
    menu = spec.answer.menu
    option = menu.by_id.get(str(value)) if spec.type == "choice" and menu is not None else None
    return option.label if option is not None else to_text(value)
