"""Hypothesis strategies: small valid templates and random event sequences."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from convoflow.engine import (
    ChoiceReceived,
    LocationReceived,
    MediaReceived,
    Release,
    Start,
    Template,
    TextReceived,
    Timeout,
    load_template,
)
from convoflow.engine.fields import INPUT_TYPES

DEFAULT_PARAMS: dict[str, Any] = {"big": "B" * 5000, "score": 7}
STATE_SCHEMA: dict[str, Any] = {
    "age": {"type": "integer", "min": 0, "max": 130, "prompt": "Age, {{contact.name}}?"},
    "email": {"type": "email"},
    "colour": {"type": "choice", "options": ["red", "green", "blue", "cyan"]},
}
OPTION_IDS = [f"o{i}" for i in range(12)]

plain_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="{}"),
    min_size=1,
    max_size=30,
)
texts = st.one_of(
    plain_text,
    st.sampled_from(["Hello {{contact.name}}", "Big {{big}}", "Score {{score}}", "{{big}}{{big}}"]),
)
labels = plain_text.map(lambda text: text[:20]).filter(lambda text: text.strip() != "")


def unique_labels(low: int, high: int, size: int = 20) -> st.SearchStrategy[list[str]]:
    return st.lists(
        labels.map(lambda text: text[:size]),
        min_size=low,
        max_size=high,
        unique_by=lambda text: text.strip().casefold(),
    )


def _buttons(draw: st.DrawFn, anywhere: st.SearchStrategy[str | None]) -> dict[str, Any]:
    names = draw(unique_labels(1, 10))
    return {
        "type": "buttons",
        "text": draw(texts),
        "button": "Choose",
        "header": draw(st.none() | texts),
        "footer": draw(st.none() | texts),
        "buttons": [
            {"id": OPTION_IDS[i], "label": label, "next": draw(anywhere)}
            for i, label in enumerate(names)
        ],
    }


def _list(draw: st.DrawFn, anywhere: st.SearchStrategy[str | None]) -> dict[str, Any]:
    titles = draw(unique_labels(1, 10))
    cut = draw(st.integers(1, len(titles)))
    groups = [titles[:cut], titles[cut:]] if cut < len(titles) else [titles]
    sections, number = [], 0
    for index, group in enumerate(groups):
        rows = []
        for title in group:
            rows.append(
                {
                    "id": OPTION_IDS[number],
                    "title": title,
                    "next": draw(anywhere),
                    "description": draw(st.none() | plain_text),
                }
            )
            number += 1
        sections.append({"title": f"Section {index}", "rows": rows})
    return {
        "type": "list",
        "text": draw(texts),
        "button": "Open",
        "save_as": "picked",
        "sections": sections,
    }


def _ask(draw: st.DrawFn, anywhere: st.SearchStrategy[str | None]) -> dict[str, Any]:
    kind = draw(st.sampled_from(INPUT_TYPES))
    step: dict[str, Any] = {
        "type": "ask",
        "field": "answer",
        "prompt": draw(texts),
        "input": kind,
        "next": draw(anywhere),
        "max_retries": draw(st.none() | st.integers(0, 3)),
    }
    if kind == "choice":
        step["options"] = draw(unique_labels(1, 12))
    if kind == "pattern":
        step["pattern"] = "[a-z]+"
    if kind in {"number", "integer"}:
        step.update(min=1, max=20)
    return step


def _condition(draw: st.DrawFn, forward: st.SearchStrategy[str | None]) -> dict[str, Any]:
    tests = st.sampled_from(
        [
            ("eq", 7),
            ("gt", "3"),
            ("contains", "B"),
            ("in", [7, 8]),
            ("exists", None),
            ("matches", "^B"),
            ("lte", "{{score}}"),
        ]
    )
    branches = []
    for _ in range(draw(st.integers(0, 3))):
        op, value = draw(tests)
        variable = draw(st.sampled_from(["score", "big", "age", "contact.name"]))
        branches.append({"var": variable, "op": op, "value": value, "next": draw(forward)})
    return {"type": "condition", "branches": branches, "default": draw(forward)}


@st.composite
def _step(draw: st.DrawFn, number: int, ids: list[str]) -> dict[str, Any]:
    later = ids[number + 1 :]
    forward = st.sampled_from([*later, *later, *later, None]) if later else st.none()
    anywhere = st.sampled_from([*ids, *ids, None])
    kind = draw(
        st.sampled_from(
            [
                "message",
                "image",
                "template",
                "set",
                "condition",
                "buttons",
                "list",
                "ask",
                "collect",
                "handoff",
                "http",
                "end",
                "connect",
            ]
        )
    )
    step: dict[str, Any]
    if kind == "message":
        step = {"type": "message", "text": draw(texts), "next": draw(forward)}
    elif kind == "image":
        step = {
            "type": "image",
            "url": "https://cdn.example.com/a.png",
            "caption": draw(texts),
            "next": draw(forward),
        }
    elif kind == "template":
        step = {
            "type": "template",
            "name": "order_update",
            "parameters": ["{{big}}"],
            "next": draw(forward),
        }
    elif kind == "set":
        value = draw(st.integers(-5, 20) | st.just("{{score}}") | plain_text)
        step = {"type": "set", "values": {"score": value}, "next": draw(forward)}
    elif kind == "condition":
        step = _condition(draw, forward)
    elif kind == "buttons":
        step = _buttons(draw, anywhere)
    elif kind == "list":
        step = _list(draw, anywhere)
    elif kind == "ask":
        step = _ask(draw, anywhere)
    elif kind == "collect":
        fields = draw(
            st.none() | st.lists(st.sampled_from(list(STATE_SCHEMA)), min_size=1, unique=True)
        )
        step = {
            "type": "collect",
            "fields": fields,
            "intro": draw(st.none() | texts),
            "next": draw(anywhere),
        }
    elif kind == "handoff":
        step = {"type": "handoff", "text": draw(texts), "next": draw(anywhere)}
    elif kind == "http":
        step = {
            "type": "http",
            "url": "https://api.example.com/{{score}}",
            "save_as": "reply",
            "next": draw(anywhere),
            "on_failure": draw(anywhere),
        }
    elif kind == "end":
        step = {"type": "end", "text": draw(st.none() | texts)}
    else:
        step = {"type": "connect", "template": "other"}
    if kind in {"buttons", "list", "ask", "collect", "handoff"}:
        timeout = draw(st.sampled_from([None, None, 300, "30m", "1h"]))
        if timeout is not None:
            step.update(timeout=timeout, on_timeout=draw(st.sampled_from(ids)))
    return {"id": ids[number], **step}


def _reachable(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the steps no path from the first one reaches (keeps the graph valid)."""
    template = Template.from_parts(
        name="probe", menu_structure={"start": "s0", "steps": steps}, state_schema=STATE_SCHEMA
    )
    seen, frontier = {"s0"}, ["s0"]
    while frontier:
        step = template.steps_by_id[frontier.pop()]
        for _, target in step.edges():
            if target is not None and target not in seen:
                seen.add(target)
                frontier.append(target)
    return [step for step in steps if step["id"] in seen]


@st.composite
def valid_templates(draw: st.DrawFn) -> Template:
    """A small valid template: non-waiting steps only lead forward, so no loop runs forever."""
    ids = [f"s{i}" for i in range(draw(st.integers(2, 8)))]
    steps = _reachable([draw(_step(number, ids)) for number in range(len(ids))])
    return load_template(
        {"start": "s0", "steps": steps},
        name="generated",
        state_schema=STATE_SCHEMA,
        default_params=DEFAULT_PARAMS,
        end_action_type=draw(st.sampled_from([None, "api_call"])),
        end_action_target={"endpoint": "https://hooks.example.com/{{score}}"},
    )


EFFECT = "effect"
"""Marks an effect result in an event list; the driver fills in the waiting effect id."""
TIMER = "timer"
"""Marks a timeout in an event list; the driver fills in the current timer id (or a stale one)."""

typed = st.sampled_from(
    [
        "1",
        "2",
        "3",
        "11",
        "o1",
        "yes",
        "no",
        "stop",
        "cancel",
        "hello",
        "42",
        "7",
        "-1",
        "1,500",
        "ana@example.com",
        "+44 7700 900123",
        "2025-02-28",
        "red",
        "abc",
        "",
        "   ",
    ]
) | st.text(max_size=40)
events = st.one_of(
    st.builds(Start, st.just({}) | st.fixed_dictionaries({"score": st.integers(-3, 30)})),
    st.builds(TextReceived, typed),
    st.builds(
        ChoiceReceived, st.sampled_from([*OPTION_IDS, "yes", "red", "zz"]), st.text(max_size=8)
    ),
    st.builds(MediaReceived, st.just("image"), st.text(max_size=5)),
    st.builds(LocationReceived, st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(
        st.just(EFFECT),
        st.booleans(),
        st.sampled_from([None, {"status": "ok"}, "x" * 5000, 5]),
        st.booleans(),
    ),
    st.tuples(st.just(TIMER), st.booleans()),
    st.builds(Timeout, st.sampled_from(["s0@2025-01-01T12:00:00+00:00", ""])),
    st.just(Release()),
)
event_lists = st.lists(events, max_size=15).map(lambda items: [Start(), *items])
"""Random events after a Start (so that most of them meet a running conversation)."""
