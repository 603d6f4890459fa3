from typing import Any

from convoflow.engine import Template
from convoflow.engine.graph_checks import (
    collect_problems,
    dangling_next,
    end_action_problems,
    graph_problems,
    loops_without_wait,
    unreachable_steps,
)


def template(steps: list[dict[str, Any]], **parts: Any) -> Template:
    return Template.from_parts(
        name="t", menu_structure={"start": steps[0]["id"], "steps": steps}, **parts
    )


def messages(problems: list[Any]) -> list[str]:
    return [str(problem) for problem in problems]


def test_next_pointing_nowhere_is_reported_with_its_field() -> None:
    t = template(
        [
            {
                "id": "a",
                "type": "buttons",
                "text": "?",
                "buttons": [{"id": "x", "label": "X", "next": "ghost"}],
            },
            {"id": "h", "type": "http", "url": "https://x", "next": "a", "on_failure": "nowhere"},
        ]
    )
    assert messages(dangling_next(t)) == [
        "step 'a' field 'buttons[0].next': points to unknown step 'ghost'",
        "step 'h' field 'on_failure': points to unknown step 'nowhere'",
    ]


def test_steps_no_path_reaches_are_unreachable() -> None:
    t = template(
        [
            {"id": "a", "type": "message", "text": "hi", "next": "b"},
            {"id": "b", "type": "end"},
            {"id": "island", "type": "message", "text": "lost", "next": "b"},
        ]
    )
    assert messages(unreachable_steps(t)) == [
        "step 'island': unreachable: no path from the start step leads here"
    ]


def test_cycle_of_steps_that_never_wait_is_refused() -> None:
    t = template(
        [
            {"id": "a", "type": "message", "text": "hi", "next": "b"},
            {"id": "b", "type": "set", "values": {"x": 1}, "next": "c"},
            {
                "id": "c",
                "type": "condition",
                "branches": [{"var": "x", "op": "eq", "value": 1, "next": "a"}],
                "default": "end",
            },
            {"id": "end", "type": "end"},
        ]
    )
    assert messages(loops_without_wait(t)) == [
        "step 'a' field 'next': loop that never waits for the customer: a → b → c → a"
    ]


def test_step_looping_onto_itself_is_refused() -> None:
    t = template([{"id": "a", "type": "message", "text": "hi", "next": "a"}])
    assert len(loops_without_wait(t)) == 1


def test_cycles_through_a_waiting_step_are_fine() -> None:
    t = template(
        [
            {
                "id": "menu",
                "type": "buttons",
                "text": "?",
                "buttons": [{"id": "x", "label": "X", "next": "info"}],
            },
            {"id": "info", "type": "message", "text": "...", "next": "menu"},
        ]
    )
    assert graph_problems(t) == []


def test_long_chains_are_checked_without_recursion_limits() -> None:
    steps = [
        {"id": f"s{i}", "type": "message", "text": "x", "next": f"s{i + 1}"} for i in range(3000)
    ]
    steps.append({"id": "s3000", "type": "end"})
    assert graph_problems(template(steps)) == []


def test_collect_needs_schema_fields() -> None:
    t = template([{"id": "c", "type": "collect", "fields": ["ghost"]}])
    assert messages(collect_problems(t)) == ["step 'c': collect needs a state_schema to ask from"]
    t = template(
        [{"id": "c", "type": "collect", "fields": ["ghost"]}, {"id": "d", "type": "collect"}],
        state_schema={"x": {"required": False}},
    )
    assert messages(collect_problems(t)) == [
        "step 'c' field 'fields[0]': unknown state_schema field 'ghost'",
        "step 'd' field 'fields': state_schema has no required field to collect",
    ]


def test_api_call_end_action_needs_an_endpoint_and_method() -> None:
    t = template(
        [{"id": "e", "type": "end"}],
        end_action_type="api_call",
        end_action_target={"endpoint": "ftp://x", "method": "FETCH", "headers": []},
    )
    assert messages(end_action_problems(t)) == [
        "field 'end_action_target.endpoint': api_call needs an http:// or https:// endpoint",
        "field 'end_action_target.method': unknown method 'FETCH'",
        "field 'end_action_target.headers': must be an object",
    ]
