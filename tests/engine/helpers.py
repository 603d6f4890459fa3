"""Shared helpers for the engine tests: building templates, driving them, checking limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from convoflow.engine import (
    ConversationState,
    Event,
    Outcome,
    Template,
    advance,
    load_template,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CONTACT = {"name": "Ana", "phone": "447700900123"}


def build(steps: list[dict[str, Any]], *, start: str | None = None, **parts: Any) -> Template:
    """A validated template from a list of native steps (start: the first step)."""
    graph: dict[str, Any] = {"start": start or steps[0]["id"], "steps": steps}
    graph.update(parts.pop("graph_settings", {}))
    return load_template(graph, name=parts.pop("name", "test"), **parts)


def drive(
    template: Template,
    events: Iterable[Event],
    *,
    state: ConversationState | None = None,
    contact: Mapping[str, str] | None = CONTACT,
) -> list[Outcome]:
    """Feed events one after the other, carrying the state; return every outcome."""
    outcomes = []
    for event in events:
        outcome = advance(template, state, event, NOW, contact=contact)
        outcomes.append(outcome)
        state = outcome.state
    return outcomes


def said(outcome: Outcome) -> list[str]:
    """The visible text of each message: text body, interactive body, caption or template name."""
    texts = []
    for message in outcome.messages:
        body = message.body
        kind = body["type"]
        if kind == "text":
            texts.append(body["text"]["body"])
        elif kind == "interactive":
            texts.append(body["interactive"]["body"]["text"])
        elif kind == "template":
            texts.append(body["template"]["name"])
        else:
            texts.append(body[kind].get("caption", ""))
    return texts


def _length_problem(name: str, value: Any, low: int, high: int) -> list[str]:
    if not isinstance(value, str):
        return [f"{name} is not a string"]
    if not low <= len(value) <= high:
        return [f"{name} has {len(value)} characters (allowed {low}..{high})"]
    return []


def _interactive_problems(interactive: Mapping[str, Any]) -> list[str]:
    problems = _length_problem("body", interactive["body"]["text"], 1, 1024)
    if "header" in interactive:
        problems += _length_problem("header", interactive["header"]["text"], 1, 60)
    if "footer" in interactive:
        problems += _length_problem("footer", interactive["footer"]["text"], 1, 60)
    action = interactive["action"]
    if interactive["type"] == "button":
        buttons: Sequence[Mapping[str, Any]] = action["buttons"]
        if not 1 <= len(buttons) <= 3:
            problems.append(f"{len(buttons)} reply buttons")
        for button in buttons:
            problems += _length_problem("button title", button["reply"]["title"], 1, 20)
            problems += _length_problem("button id", button["reply"]["id"], 1, 256)
        titles = [button["reply"]["title"] for button in buttons]
        if len(set(titles)) != len(titles):
            problems.append(f"button titles repeat: {titles}")
        return problems
    problems += _length_problem("list button", action["button"], 1, 20)
    sections = action["sections"]
    rows = [row for section in sections for row in section["rows"]]
    if not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
        problems.append(f"{len(sections)} sections, {len(rows)} rows")
    for section in sections:
        problems += _length_problem("section title", section["title"], 1, 24)
    for row in rows:
        problems += _length_problem("row title", row["title"], 1, 24)
        problems += _length_problem("row id", row["id"], 1, 200)
        if "description" in row:
            problems += _length_problem("row description", row["description"], 1, 72)
    return problems


def limit_violations(body: Mapping[str, Any]) -> list[str]:
    """What WhatsApp would refuse in a Graph API message object (an independent oracle)."""
    kind = body["type"]
    if kind == "text":
        return _length_problem(
            "text", body["text"]["body"].strip() and body["text"]["body"], 1, 4096
        )
    if kind == "interactive":
        return _interactive_problems(body["interactive"])
    if kind in {"image", "video", "audio", "document"}:
        media = body[kind]
        problems = [] if ("id" in media) != ("link" in media) else ["needs one of id or link"]
        if "caption" in media:
            problems += ["audio has no caption"] if kind == "audio" else []
            problems += _length_problem("caption", media["caption"], 1, 1024)
        return problems
    if kind == "template":
        template = body["template"]
        return _length_problem("template name", template["name"], 1, 512) + (
            [] if template["language"].get("code") else ["template language missing"]
        )
    return [f"unknown message type {kind!r}"]
