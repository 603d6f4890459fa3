"""What :func:`advance` reads on every event, precomputed once per template.

Plain dicts and slotted objects: looking something up here costs a dictionary access, not
a pydantic attribute lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .fields import FieldSpec
from .menus import Menu, MenuOption
from .step_base import TimedWait
from .steps import AskStep, ButtonsStep, CollectStep, ListRow, ListStep, Step

Sections = tuple[tuple[str, tuple[MenuOption, ...]], ...]
"""A list step's sections: (title, options) pairs."""


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """Step index, option tables, collect fields, retry limits and timeouts of one template.

    ``timeouts`` maps a step with both ``timeout`` and ``on_timeout`` to its seconds.
    """

    index: Mapping[str, Step]
    menus: Mapping[str, Menu]
    sections: Mapping[str, Sections]
    collect_fields: Mapping[str, tuple[str, ...]]
    retries: Mapping[str, int]
    default_retries: int
    cancel_words: frozenset[str]
    timeouts: Mapping[str, float] = field(default_factory=dict)

    def step(self, step_id: str | None) -> Step | None:
        """The step called ``step_id``, or None."""
        return self.index.get(step_id) if step_id is not None else None

    def is_cancel(self, text: str) -> bool:
        """Whether a reply is one of the cancel keywords."""
        return text.strip().casefold() in self.cancel_words


def _row_option(row: ListRow) -> MenuOption:
    return MenuOption(row.id, row.title, row.next, row.description or "")


def compile_template(
    steps: Iterable[Step],
    state_schema: Mapping[str, FieldSpec],
    max_retries: int,
    cancel_keywords: Iterable[str],
) -> CompiledTemplate:
    """Precompute everything the engine looks up while running (first step id wins)."""
    required = tuple(name for name, spec in state_schema.items() if spec.required)
    index: dict[str, Step] = {}
    menus: dict[str, Menu] = {}
    sections: dict[str, Sections] = {}
    collect_fields: dict[str, tuple[str, ...]] = {}
    retries: dict[str, int] = {}
    timeouts: dict[str, float] = {}
    for step in steps:
        index.setdefault(step.id, step)
        if step.waits:
            own = getattr(step, "max_retries", None)
            retries[step.id] = max_retries if own is None else own
        if isinstance(step, TimedWait) and step.on_timeout is not None:
            seconds = step.timeout_seconds
            if seconds is not None:
                timeouts.setdefault(step.id, seconds)
        if isinstance(step, ButtonsStep):
            menus[step.id] = Menu.of(MenuOption(b.id, b.label, b.next) for b in step.buttons)
        elif isinstance(step, ListStep):
            grouped = tuple(
                (section.title or "", tuple(_row_option(row) for row in section.rows))
                for section in step.sections
            )
            sections[step.id] = grouped
            menus[step.id] = Menu.of(row for _, rows in grouped for row in rows)
        elif isinstance(step, AskStep) and step.answer.menu is not None:
            menus[step.id] = step.answer.menu
        elif isinstance(step, CollectStep):
            wanted = required if step.fields is None else tuple(step.fields)
            collect_fields[step.id] = tuple(name for name in wanted if name in state_schema)
    cancel_words = frozenset(word.strip().casefold() for word in cancel_keywords)
    return CompiledTemplate(
        index, menus, sections, collect_fields, retries, max_retries, cancel_words, timeouts
    )
