"""Checks on what steps say: WhatsApp's size limits, duplicate options, unset variables.

Limits are checked on the template's own texts; what a ``{{variable}}`` adds at run time is
truncated by the message builder instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import limits
from .problems import Problem
from .render import placeholders
from .steps import (
    AskStep,
    ButtonsStep,
    CollectStep,
    ConditionStep,
    InteractiveStep,
    ListStep,
    MediaStep,
    Step,
)
from .template import Template
from .variables import variables_of_step

BUILTIN_VARIABLES = frozenset({"contact.name", "contact.phone"})
NOT_RENDERED = frozenset(
    {"id", "label", "title", "description", "button", "name", "language", "options", "position"}
)
"""Fields shown or matched verbatim: a ``{{variable}}`` there would not be replaced."""
RENDERED_CONTAINERS = ("body", "values", "headers", "components", "parameters")
"""Free-form JSON rendered as a whole, whatever its keys are called."""


def _too_long(step_id: str, field: str, text: str | None, limit: int) -> list[Problem]:
    if text is None or len(text) <= limit:
        return []
    return [Problem(step_id, field, f"longer than {limit} characters")]


def _duplicates(step_id: str, items: list[tuple[str, str]], what: str) -> list[Problem]:
    """``items`` are (field path, value); report each value seen before (case-insensitive)."""
    seen: set[str] = set()
    problems = []
    for field, value in items:
        key = value.strip().casefold()
        if key in seen:
            problems.append(Problem(step_id, field, f"duplicate {what} {value!r}"))
        seen.add(key)
    return problems


def _interactive_frame(step: InteractiveStep) -> list[Problem]:
    return [
        *_too_long(step.id, "text", step.text, limits.INTERACTIVE_BODY),
        *_too_long(step.id, "header", step.header, limits.HEADER_TEXT),
        *_too_long(step.id, "footer", step.footer, limits.FOOTER_TEXT),
    ]


def _buttons_limits(step: ButtonsStep) -> list[Problem]:
    problems = _interactive_frame(step)
    if len(step.buttons) > limits.LIST_ROWS:
        message = (
            f"{len(step.buttons)} buttons: WhatsApp allows 3 reply buttons, "
            f"or up to {limits.LIST_ROWS} options sent as a list"
        )
        problems.append(Problem(step.id, "buttons", message))
    if len(step.buttons) > limits.REPLY_BUTTONS:
        problems += _too_long(step.id, "button", step.button, limits.LIST_BUTTON)
    for number, option in enumerate(step.buttons):
        problems += _too_long(
            step.id, f"buttons[{number}].label", option.label, limits.BUTTON_TITLE
        )
    problems += _duplicates(
        step.id, [(f"buttons[{i}].id", b.id) for i, b in enumerate(step.buttons)], "option id"
    )
    problems += _duplicates(
        step.id, [(f"buttons[{i}].label", b.label) for i, b in enumerate(step.buttons)], "label"
    )
    return problems


def _list_limits(step: ListStep) -> list[Problem]:
    problems = _interactive_frame(step)
    problems += _too_long(step.id, "button", step.button, limits.LIST_BUTTON)
    rows = [
        (f"sections[{s}].rows[{r}]", row)
        for s, section in enumerate(step.sections)
        for r, row in enumerate(section.rows)
    ]
    if len(rows) > limits.LIST_ROWS:
        message = f"{len(rows)} rows: a list holds at most {limits.LIST_ROWS} rows in total"
        problems.append(Problem(step.id, "sections", message))
    for number, section in enumerate(step.sections):
        field = f"sections[{number}].title"
        if not section.title and len(step.sections) > 1:
            problems.append(Problem(step.id, field, "required when a list has several sections"))
        problems += _too_long(step.id, field, section.title, limits.SECTION_TITLE)
    for path, row in rows:
        problems += _too_long(step.id, f"{path}.title", row.title, limits.ROW_TITLE)
        problems += _too_long(
            step.id, f"{path}.description", row.description, limits.ROW_DESCRIPTION
        )
    problems += _duplicates(step.id, [(f"{path}.id", row.id) for path, row in rows], "option id")
    problems += _duplicates(step.id, [(f"{path}.title", row.title) for path, row in rows], "title")
    return problems


def _ask_limits(step: AskStep, template: Template) -> list[Problem]:
    menu = template.menu(step.id)
    interactive = menu is not None and len(menu.options) <= limits.LIST_ROWS
    limit = limits.INTERACTIVE_BODY if interactive else limits.TEXT_BODY
    options = [(f"options[{i}].id", option.id) for i, option in enumerate(step.options)]
    return [
        *_too_long(step.id, "prompt", step.prompt, limit),
        *_too_long(step.id, "error", step.error, limits.TEXT_BODY),
        *_duplicates(step.id, options, "option id"),
    ]


def _step_limits(step: Step, template: Template) -> list[Problem]:
    if isinstance(step, ButtonsStep):
        return _buttons_limits(step)
    if isinstance(step, ListStep):
        return _list_limits(step)
    if isinstance(step, AskStep):
        return _ask_limits(step, template)
    if isinstance(step, MediaStep):
        caption_limit = limits.TEXT_BODY if step.type == "audio" else limits.CAPTION
        return [
            *_too_long(step.id, "caption", step.caption, caption_limit),
            *_too_long(step.id, "filename", step.filename, limits.DOCUMENT_FILENAME),
        ]
    if isinstance(step, CollectStep):
        return _too_long(step.id, "intro", step.intro, limits.TEXT_BODY)
    return _too_long(step.id, "text", getattr(step, "text", None), limits.TEXT_BODY)


def limit_problems(template: Template) -> list[Problem]:
    """Texts and menus WhatsApp would refuse, plus duplicate options."""
    problems = [problem for step in template.steps for problem in _step_limits(step, template)]
    for name, spec in template.state_schema.items():
        field = f"state_schema.{name}.prompt"
        problems += _too_long("", field, spec.prompt, limits.TEXT_BODY)
    return problems


# -- variables --------------------------------------------------------------------------


def variables_set(template: Template) -> set[str]:
    """Every variable some step, the schema or the defaults may set (top-level names)."""
    names = set(template.default_params) | set(template.state_schema)
    for step in template.steps:
        names.update(variables_of_step(step))
    return names


def _strings(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(field path, last key, value) of every string inside a dumped step."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(item, str):
                yield child, str(key), item
            else:
                yield from _strings(item, child)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            child = f"{path}[{number}]"
            if isinstance(item, str):
                yield child, path.rsplit(".", 1)[-1], item
            else:
                yield from _strings(item, child)


def _unknown(name: str, known: set[str]) -> bool:
    if name.startswith("contact."):
        return name not in BUILTIN_VARIABLES
    return name.split(".", 1)[0] not in known


def variable_problems(template: Template) -> list[Problem]:
    """``{{variables}}`` nothing sets, and placeholders in fields that are never rendered."""
    known = variables_set(template)
    problems = []
    for step in template.steps:
        dumped = step.model_dump(mode="json", exclude={"id", "type", "position"})
        for field, key, text in _strings(dumped, ""):
            for name in placeholders(text):
                shown_as_is = key in NOT_RENDERED or field.startswith("options")
                if shown_as_is and not field.startswith(RENDERED_CONTAINERS):
                    message = f"{{{{{name}}}}} is shown as is here: variables are not rendered"
                    problems.append(Problem(step.id, field, message))
                elif _unknown(name, known):
                    problems.append(
                        Problem(step.id, field, f"variable {{{{{name}}}}} is never set")
                    )
        if isinstance(step, ConditionStep):
            for number, branch in enumerate(step.branches):
                if branch.op != "exists" and _unknown(branch.var, known):
                    message = f"variable {branch.var!r} is never set"
                    problems.append(Problem(step.id, f"branches[{number}].var", message))
    for field, _, text in _strings(template.end_action_target or {}, "end_action_target"):
        for name in placeholders(text):
            if _unknown(name, known):
                problems.append(Problem("", field, f"variable {{{{{name}}}}} is never set"))
    return problems
