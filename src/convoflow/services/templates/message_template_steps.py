"""``template`` steps checked against the owner's synced WhatsApp message templates.

Once an owner's templates were synced (``convoflow templates sync``), every ``template``
step of their workflow templates must name one that exists in that language, and give
as many parameters as it has placeholders (``parameters`` fill the body; ``components``
are counted per component). Before the first sync nothing is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Problem, TemplateInvalid
from convoflow.store.message_templates import find_message_template, has_message_templates

__all__ = ["check_template_steps"]


def _given(step: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    parameters = step.get("parameters")
    if isinstance(parameters, list) and parameters:
        counts["body"] = len(parameters)
    components = step.get("components")
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).lower()
        key = f"button:{component.get('index', 0)}" if kind == "button" else kind
        given = component.get("parameters")
        counts[key] = counts.get(key, 0) + (len(given) if isinstance(given, list) else 0)
    return counts


async def check_template_steps(
    db_session: AsyncSession, owner_id: str, graph: Mapping[str, Any]
) -> None:
    """Raise :class:`TemplateInvalid` naming each ``template`` step that does not match."""
    steps = graph.get("steps")
    template_steps = [
        step
        for step in (steps if isinstance(steps, list) else [])
        if isinstance(step, Mapping) and step.get("type") == "template"
    ]
    if not template_steps or not await has_message_templates(db_session, owner_id):
        return
    problems: list[Problem] = []
    for step in template_steps:
        step_id = str(step.get("id", ""))
        name, language = str(step.get("name", "")), str(step.get("language") or "en_US")
        where = f"menu_structure.steps.{step_id}"
        found = await find_message_template(db_session, owner_id, name, language)
        if found is None:
            problems.append(
                Problem(step_id, f"{where}.name", f"no synced template {name!r} in {language!r}")
            )
            continue
        expected = {key: len(names) for key, names in (found.parameters or {}).items()}
        given = _given(step)
        for key in sorted(set(expected) | set(given)):
            if expected.get(key, 0) != given.get(key, 0):
                problems.append(
                    Problem(
                        step_id,
                        f"{where}.parameters",
                        f"template {name!r} takes {expected.get(key, 0)} parameter(s) in {key},"
                        f" {given.get(key, 0)} given",
                    )
                )
    if problems:
        raise TemplateInvalid(problems)
