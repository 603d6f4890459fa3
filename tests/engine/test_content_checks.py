from typing import Any

import pytest

from convoflow.engine import Template
from convoflow.engine.content_checks import limit_problems, variable_problems, variables_set


def template(steps: list[dict[str, Any]], **parts: Any) -> Template:
    return Template.from_parts(
        name="t", menu_structure={"start": steps[0]["id"], "steps": steps}, **parts
    )


def buttons(count: int, label: str = "B") -> list[dict[str, Any]]:
    return [{"id": f"b{i}", "label": f"{label}{i}", "next": None} for i in range(count)]


def rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "title": f"Row {i}", **extra} for i in range(count)]


def problems_of(step: dict[str, Any], **parts: Any) -> list[str]:
    return [str(p) for p in limit_problems(template([step], **parts))]


def test_four_to_ten_buttons_are_allowed_as_a_list() -> None:
    assert problems_of({"id": "m", "type": "buttons", "text": "?", "buttons": buttons(10)}) == []


def test_more_than_ten_buttons_are_refused() -> None:
    assert problems_of({"id": "m", "type": "buttons", "text": "?", "buttons": buttons(11)}) == [
        "step 'm' field 'buttons': 11 buttons: WhatsApp allows 3 reply buttons, "
        "or up to 10 options sent as a list"
    ]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {
                "id": "m",
                "type": "buttons",
                "text": "?",
                "buttons": [{"id": "a", "label": "x" * 21}],
            },
            "step 'm' field 'buttons[0].label': longer than 20 characters",
        ),
        (
            {"id": "m", "type": "buttons", "text": "x" * 1025, "buttons": buttons(1)},
            "step 'm' field 'text': longer than 1024 characters",
        ),
        (
            {"id": "m", "type": "buttons", "text": "?", "header": "h" * 61, "buttons": buttons(1)},
            "step 'm' field 'header': longer than 60 characters",
        ),
        (
            {"id": "m", "type": "buttons", "text": "?", "footer": "f" * 61, "buttons": buttons(1)},
            "step 'm' field 'footer': longer than 60 characters",
        ),
        (
            {"id": "m", "type": "buttons", "text": "?", "button": "b" * 21, "buttons": buttons(4)},
            "step 'm' field 'button': longer than 20 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [{"rows": rows(11)}],
            },
            "step 'p' field 'sections': 11 rows: a list holds at most 10 rows in total",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [{"title": "A", "rows": rows(3)}, {"title": "B", "rows": rows(1)}],
            },
            "step 'p' field 'sections[1].rows[0].id': duplicate option id 'r0'",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [{"rows": [{"id": "a", "title": "t" * 25}]}],
            },
            "step 'p' field 'sections[0].rows[0].title': longer than 24 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [{"rows": [{"id": "a", "title": "A", "description": "d" * 73}]}],
            },
            "step 'p' field 'sections[0].rows[0].description': longer than 72 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "b" * 21,
                "sections": [{"rows": rows(1)}],
            },
            "step 'p' field 'button': longer than 20 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [{"title": "s" * 25, "rows": rows(1)}],
            },
            "step 'p' field 'sections[0].title': longer than 24 characters",
        ),
        (
            {
                "id": "p",
                "type": "list",
                "text": "?",
                "button": "Open",
                "sections": [
                    {"title": "A", "rows": rows(1)},
                    {"rows": [{"id": "z", "title": "Z"}]},
                ],
            },
            "step 'p' field 'sections[1].title': required when a list has several sections",
        ),
        (
            {"id": "t", "type": "message", "text": "x" * 4097},
            "step 't' field 'text': longer than 4096 characters",
        ),
        (
            {"id": "i", "type": "image", "url": "https://x", "caption": "c" * 1025},
            "step 'i' field 'caption': longer than 1024 characters",
        ),
        (
            {
                "id": "q",
                "type": "ask",
                "field": "c",
                "prompt": "p" * 1025,
                "input": "choice",
                "options": ["a"],
            },
            "step 'q' field 'prompt': longer than 1024 characters",
        ),
        (
            {
                "id": "q",
                "type": "ask",
                "field": "c",
                "prompt": "?",
                "input": "choice",
                "options": ["a", "A"],
            },
            "step 'q' field 'options[1].id': duplicate option id 'A'",
        ),
        (
            {"id": "e", "type": "end", "text": "x" * 4097},
            "step 'e' field 'text': longer than 4096 characters",
        ),
    ],
)
def test_whatsapp_limits_are_enforced_naming_step_and_field(
    step: dict[str, Any], expected: str
) -> None:
    assert expected in problems_of(step)


def test_duplicate_option_ids_and_labels_within_a_step_are_refused() -> None:
    step = {
        "id": "m",
        "type": "buttons",
        "text": "?",
        "buttons": [{"id": "a", "label": "Yes"}, {"id": "a", "label": "yes"}],
    }
    assert problems_of(step) == [
        "step 'm' field 'buttons[1].id': duplicate option id 'a'",
        "step 'm' field 'buttons[1].label': duplicate label 'yes'",
    ]


def test_long_schema_prompts_are_refused() -> None:
    problems = problems_of({"id": "e", "type": "end"}, state_schema={"x": {"prompt": "p" * 4097}})
    assert problems == ["field 'state_schema.x.prompt': longer than 4096 characters"]


def test_variables_are_set_by_steps_schema_and_defaults() -> None:
    t = template(
        [
            {"id": "m", "type": "buttons", "text": "?", "save_as": "pick", "buttons": buttons(1)},
            {
                "id": "l",
                "type": "list",
                "text": "?",
                "button": "b",
                "sections": [{"rows": rows(1)}],
            },
            {"id": "q", "type": "ask", "field": "age", "prompt": "?"},
            {"id": "s", "type": "set", "values": {"flag": True}},
            {"id": "h", "type": "http", "url": "https://x", "save_as": "reply"},
        ],
        state_schema={"amount": {}},
        default_params={"shop": "x"},
    )
    assert variables_set(t) == {
        "pick",
        "pick_label",
        "l",
        "l_label",
        "age",
        "flag",
        "reply",
        "amount",
        "shop",
    }


def test_variables_never_set_are_reported_where_used() -> None:
    t = template(
        [
            {
                "id": "a",
                "type": "message",
                "text": "Hi {{contact.name}} {{ghost}} {{contact.email}}",
                "next": "b",
            },
            {
                "id": "b",
                "type": "condition",
                "branches": [
                    {"var": "phantom", "op": "eq", "value": "{{spirit}}", "next": None},
                    {"var": "maybe", "op": "exists", "next": None},
                ],
            },
        ],
        end_action_type="api_call",
        end_action_target={"endpoint": "https://x/{{order_id}}"},
    )
    assert [str(p) for p in variable_problems(t)] == [
        "step 'a' field 'text': variable {{ghost}} is never set",
        "step 'a' field 'text': variable {{contact.email}} is never set",
        "step 'b' field 'branches[0].value': variable {{spirit}} is never set",
        "step 'b' field 'branches[0].var': variable 'phantom' is never set",
        "field 'end_action_target.endpoint': variable {{order_id}} is never set",
    ]


def test_placeholders_in_labels_are_refused_because_they_are_not_rendered() -> None:
    t = template(
        [{"id": "m", "type": "buttons", "text": "?", "buttons": [{"id": "a", "label": "{{x}}"}]}],
        default_params={"x": 1},
    )
    assert [str(p) for p in variable_problems(t)] == [
        "step 'm' field 'buttons[0].label': {{x}} is shown as is here: variables are not rendered"
    ]


def test_http_bodies_may_use_variables_under_any_key() -> None:
    t = template(
        [
            {
                "id": "h",
                "type": "http",
                "url": "https://x",
                "method": "POST",
                "body": {"name": "{{contact.name}}", "id": "{{order}}"},
            }
        ],
        default_params={"order": 1},
    )
    assert variable_problems(t) == []
