"""The model's instructions for one turn: the guidelines, then what the step expects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from convoflow.engine.fields import FieldSpec
from convoflow.engine.render import to_text
from convoflow.services.ai.redaction import Redactor

CHANNEL = (
    "You are the assistant of a business, talking with a customer on WhatsApp. Your message "
    "text is sent to the customer as it is: keep it short, friendly and plain (no Markdown "
    "tables). Ask for one or two things at a time."
)
FIELDS = (
    "Collect these fields. As soon as the customer gives any of them, call set_fields with "
    "every value you understood (one message may give several; a correction overwrites). "
    "Only values set_fields accepted are stored: ask again for rejected ones, with the reason."
)
FINISH = "When every required field is set, call finish."
CONFIRM = "The customer is then shown a summary to confirm; do not write one yourself."
HANDOFF = "Call handoff when the customer asks for a person or you cannot help."
KNOWLEDGE = (
    "Answer questions only from what search_knowledge returns, and name the source. When it "
    "finds nothing relevant, say that you do not know and offer to hand over to a person; "
    "never invent an answer."
)
CLASSIFY = (
    "Decide which category the customer's request belongs to and call classify. If it is "
    "unclear, ask one short question with reply. Categories:"
)


def system_prompt(
    *,
    mode: str,
    guidelines: str,
    fields: Mapping[str, FieldSpec],
    values: Mapping[str, Any],
    categories: Sequence[Mapping[str, str]],
    knowledge: bool,
    confirm: bool,
    redactor: Redactor,
) -> str:
    """The system message of a turn."""
    parts = [guidelines.strip()] if guidelines.strip() else []
    parts.append(CHANNEL)
    if mode == "ai_classify":
        lines = [f"- {c['id']}: {c.get('description') or c['id']}" for c in categories]
        lines.append("- other: anything else")
        parts.append("\n".join([CLASSIFY, *lines]))
    elif fields:
        lines = [FIELDS]
        for name, spec in fields.items():
            need = "required" if spec.required else "optional"
            about = f": {spec.description}" if spec.description else ""
            lines.append(f"- {name} ({spec.type}, {need}){about}")
        held = {name: value for name, value in values.items() if name in fields}
        shown = ", ".join(f"{k}={redactor.mask(to_text(v))}" for k, v in held.items())
        lines.append(f"Already set: {shown or 'nothing yet'}.")
        missing = [n for n, s in fields.items() if s.required and values.get(n) in (None, "")]
        lines.append(f"Still missing: {', '.join(missing) or 'nothing'}.")
        lines.append(FINISH + (" " + CONFIRM if confirm else ""))
        parts.append("\n".join(lines))
    else:
        parts.append("When the customer's request is dealt with, call finish.")
    parts.append(HANDOFF)
    if knowledge:
        parts.append(KNOWLEDGE)
    return "\n\n".join(parts)
