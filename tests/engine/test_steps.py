from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from convoflow.engine.steps import STEP_TYPES, WAITING_TYPES, Step

STEP: TypeAdapter[Any] = TypeAdapter(Step)

ONE_OF_EACH: list[dict[str, Any]] = [
    {"id": "m", "type": "message", "text": "Hi", "next": "b"},
    {
        "id": "b",
        "type": "buttons",
        "text": "Pick",
        "buttons": [{"id": "a", "label": "A", "next": "l"}],
    },
    {
        "id": "l",
        "type": "list",
        "text": "Pick",
        "button": "Open",
        "sections": [
            {"title": "S", "rows": [{"id": "r", "title": "R", "description": "d", "next": "i"}]}
        ],
    },
    {"id": "i", "type": "image", "url": "https://example.com/a.png", "caption": "c", "next": "v"},
    {"id": "v", "type": "video", "media_id": "123", "next": "au"},
    {"id": "au", "type": "audio", "url": "https://example.com/a.mp3", "next": "d"},
    {
        "id": "d",
        "type": "document",
        "url": "https://example.com/a.pdf",
        "filename": "a.pdf",
        "next": "t",
    },
    {
        "id": "t",
        "type": "template",
        "name": "order_update",
        "language": "en_GB",
        "parameters": ["{{contact.name}}"],
        "next": "q",
    },
    {
        "id": "q",
        "type": "ask",
        "field": "age",
        "prompt": "Age?",
        "input": "integer",
        "min": 18,
        "next": "c",
    },
    {"id": "c", "type": "collect", "next": "if"},
    {
        "id": "if",
        "type": "condition",
        "branches": [{"var": "age", "op": "gte", "value": 65, "next": "s"}],
        "default": "s",
    },
    {"id": "s", "type": "set", "values": {"senior": True}, "next": "h"},
    {
        "id": "h",
        "type": "http",
        "method": "POST",
        "url": "https://api.example.com/x",
        "body": {"a": 1},
        "save_as": "reply",
        "on_failure": "e",
        "next": "x",
    },
    {"id": "x", "type": "connect", "template": "main_menu"},
    {"id": "ho", "type": "handoff", "next": "e"},
    {"id": "e", "type": "end", "text": "Bye"},
    {
        "id": "ax",
        "type": "ai_extract",
        "fields": {"amount": {"type": "number"}},
        "on_failure": "e",
        "next": "e",
    },
    {"id": "ar", "type": "ai_reply", "guidelines": "Be brief.", "on_handoff": "ho", "next": "e"},
    {
        "id": "ac",
        "type": "ai_classify",
        "categories": [{"id": "billing", "description": "Invoices", "next": "e"}],
        "other": "ar",
    },
]


def test_every_step_type_parses_to_its_own_model() -> None:
    parsed = [STEP.validate_python(raw) for raw in ONE_OF_EACH]
    assert sorted({step.type for step in parsed}) == sorted(STEP_TYPES)


def test_waiting_steps_say_so() -> None:
    for raw in ONE_OF_EACH:
        step = STEP.validate_python(raw)
        assert step.waits == (step.type in WAITING_TYPES), step.type


def test_edges_name_the_field_they_come_from() -> None:
    steps = {raw["id"]: STEP.validate_python(raw) for raw in ONE_OF_EACH}
    assert steps["b"].edges() == [("buttons[0].next", "l")]
    assert steps["l"].edges() == [("sections[0].rows[0].next", "i")]
    assert steps["if"].edges() == [("branches[0].next", "s"), ("default", "s")]
    assert steps["h"].edges() == [("next", "x"), ("on_failure", "e")]
    assert steps["x"].edges() == []


def test_builder_position_is_kept() -> None:
    step = STEP.validate_python(
        {"id": "m", "type": "message", "text": "Hi", "position": {"x": 10, "y": 20}}
    )
    assert step.position == {"x": 10, "y": 20}


def test_choice_is_stored_under_save_as_else_under_the_step_id() -> None:
    plain = STEP.validate_python(ONE_OF_EACH[1])
    saved = STEP.validate_python({**ONE_OF_EACH[1], "save_as": "choice"})
    assert (plain.variable, saved.variable) == ("b", "choice")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"id": "i", "type": "image"}, "give exactly one of url or media_id"),
        (
            {
                "id": "i",
                "type": "image",
                "url": "ftp://x",
            },
            "url must start with http",
        ),
        (
            {"id": "i", "type": "image", "url": "https://x", "filename": "a"},
            "filename is only allowed",
        ),
        (
            {
                "id": "c",
                "type": "condition",
                "branches": [{"var": "x", "op": "matches", "value": "("}],
            },
            "invalid regular expression",
        ),
        (
            {"id": "c", "type": "condition", "branches": [{"var": "x", "op": "in", "value": "a"}]},
            "in needs a list",
        ),
        (
            {
                "id": "q",
                "type": "ask",
                "field": "x",
                "prompt": "?",
                "input": "pattern",
                "pattern": "[a-",
            },
            "invalid regular expression",
        ),
        ({"id": "q", "type": "ask", "field": "2x", "prompt": "?"}, "String should match pattern"),
        ({"id": "t", "type": "template", "name": "Bad Name"}, "String should match pattern"),
        ({"id": "t", "type": "template", "name": "n" * 513}, "String should match pattern"),
        (
            {
                "id": "m",
                "type": "buttons",
                "text": "?",
                "buttons": [{"id": "i" * 201, "label": "A"}],
            },
            "at most 200 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "sections": [{"rows": [{"id": "i" * 201, "title": "A"}]}],
            },
            "at most 200 characters",
        ),
        (
            {
                "id": "q",
                "type": "ask",
                "field": "x",
                "prompt": "?",
                "input": "choice",
                "options": [{"id": "i" * 201, "label": "A"}],
            },
            "at most 200 characters",
        ),
        ({"id": "m", "type": "message", "text": "Hi", "colour": "red"}, "Extra inputs"),
        ({"id": "has space", "type": "end"}, "String should match pattern"),
    ],
)
def test_malformed_steps_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        STEP.validate_python(raw)


def test_longest_names_and_ids_whatsapp_allows_are_accepted() -> None:
    STEP.validate_python({"id": "t", "type": "template", "name": "n" * 512})
    option = {"id": "i" * 200, "label": "A"}
    STEP.validate_python({"id": "m", "type": "buttons", "text": "?", "buttons": [option]})
