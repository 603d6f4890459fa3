"""Matching a customer's reply against a step's options.

A reply matches an option by id, then by label (case-insensitive, trimmed), then by its
number in the list ("1", "2", "3." ...). Look-up tables are built once per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MenuOption:
    """One choice offered to the customer: a reply button, a list row or a choice answer."""

    id: str
    label: str
    next: str | None = None
    description: str = ""


def normalise_reply(text: str) -> str:
    """Fold a reply for matching: trimmed, case-folded, "2." and "2)" read as "2"."""
    key = text.strip().casefold()
    if key[-1:] in {".", ")"} and key[:-1].isdigit():
        return key[:-1]
    return key


@dataclass(frozen=True, slots=True)
class Menu:
    """The options of one step with a precomputed reply → option table."""

    options: tuple[MenuOption, ...]
    by_reply: Mapping[str, MenuOption]
    by_id: Mapping[str, MenuOption]

    @classmethod
    def of(cls, options: Iterable[MenuOption]) -> Menu:
        """Build the menu; ids win over labels, labels over numbers, first option over later."""
        ordered = tuple(options)
        by_reply: dict[str, MenuOption] = {}
        for number, option in enumerate(ordered, start=1):
            by_reply.setdefault(str(number), option)
        for use_id in (False, True):
            tier: dict[str, MenuOption] = {}
            for option in ordered:
                tier.setdefault(normalise_reply(option.id if use_id else option.label), option)
            by_reply.update(tier)
        by_reply.pop("", None)
        by_id: dict[str, MenuOption] = {}
        for option in ordered:
            by_id.setdefault(option.id, option)
        return cls(ordered, by_reply, by_id)

    def match(self, text: str) -> MenuOption | None:
        """The option a typed reply designates, or None."""
        return self.by_reply.get(normalise_reply(text))

    def match_choice(self, choice_id: str, title: str = "") -> MenuOption | None:
        """The option a tapped button or list row designates (its id, else its title)."""
        return self.by_id.get(choice_id) or self.match(choice_id) or self.match(title)
