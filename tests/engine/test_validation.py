from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.engine import TemplateInvalid, load_template, validate_template

VALID = {
    "start": "welcome",
    "steps": [
        {
            "id": "welcome",
            "type": "buttons",
            "text": "Hi {{contact.name}}! What do you need?",
            "buttons": [
                {"id": "order", "label": "New order", "next": "pick"},
                {"id": "help", "label": "Support", "next": "support"},
            ],
        },
        {
            "id": "pick",
            "type": "list",
            "text": "Pick a product",
            "button": "Products",
            "save_as": "product",
            "sections": [
                {"title": "Drinks", "rows": [{"id": "coffee", "title": "Coffee", "next": "qty"}]}
            ],
        },
        {"id": "qty", "type": "ask", "field": "quantity", "prompt": "How many?", "next": "done"},
        {"id": "done", "type": "end", "text": "Thanks! {{quantity}} x {{product}} coming."},
        {"id": "support", "type": "handoff", "text": "An agent will reply here."},
    ],
}


def problems(graph: Any, **parts: Any) -> list[str]:
    return [str(problem) for problem in validate_template(graph, **parts)]


def test_design_example_is_valid() -> None:
    assert problems(VALID) == []


def test_missing_start_is_refused() -> None:
    assert problems({"steps": VALID["steps"]}) == [
        "field 'start': missing start: name the first step"
    ]


def test_start_must_name_a_step() -> None:
    assert problems({**VALID, "start": "nowhere"}) == [
        "field 'start': start step 'nowhere' does not exist"
    ]


def test_graph_must_be_an_object_with_steps() -> None:
    assert problems([]) == ["menu_structure must be an object with start and steps"]
    assert problems({"start": "a", "steps": []}) == [
        "field 'steps': required: a non-empty list of steps"
    ]


def test_duplicate_step_ids_are_refused() -> None:
    graph = {"start": "a", "steps": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]}
    assert problems(graph) == ["step 'a' field 'id': duplicate step id (steps[0] and steps[1])"]


def test_unknown_step_types_are_refused_with_the_list_of_known_ones() -> None:
    graph = {"start": "a", "steps": [{"id": "a", "type": "teleport"}]}
    (problem,) = problems(graph)
    assert problem.startswith(
        "step 'a' field 'type': unknown step type 'teleport'; expected one of message"
    )


def test_steps_without_id_or_type_are_named_by_position() -> None:
    graph = {"start": "a", "steps": [{"type": "end"}, "text", {"id": "a"}]}
    assert problems(graph) == [
        "step 'steps[0]' field 'id': required: every step needs a text id",
        "step 'steps[1]': a step must be an object",
        "step 'a' field 'type': required: the step type",
    ]


def test_pydantic_errors_name_the_step_and_field_without_tracebacks() -> None:
    graph = {
        "start": "a",
        "steps": [
            {
                "id": "a",
                "type": "list",
                "text": "t",
                "button": "b",
                "sections": [
                    {"title": "s", "rows": [{"id": "1", "title": "x"}, {"id": "2", "titel": "y"}]}
                ],
            },
        ],
    }
    assert problems(graph) == [
        "step 'a' field 'sections[0].rows[1].title': required",
        "step 'a' field 'sections[0].rows[1].titel': unknown field",
    ]


def test_bad_regular_expressions_are_refused() -> None:
    graph = {
        "start": "a",
        "steps": [
            {
                "id": "a",
                "type": "ask",
                "field": "code",
                "prompt": "?",
                "input": "pattern",
                "pattern": "[0-9",
            }
        ],
    }
    (problem,) = problems(graph)
    assert problem.startswith("step 'a': invalid regular expression '[0-9'")


def test_schema_and_settings_errors_name_their_field() -> None:
    result = problems(VALID, state_schema={"amount": {"type": "number", "min": "lots"}})
    assert result[0].startswith("field 'state_schema.amount.min': Input should be a valid")


def test_every_kind_of_problem_is_reported_at_once() -> None:
    graph = {
        "start": "a",
        "steps": [
            {
                "id": "a",
                "type": "buttons",
                "text": "{{nobody}}",
                "buttons": [{"id": "x", "label": "X" * 30, "next": "z"}],
            },
            {"id": "b", "type": "end"},
        ],
    }
    assert problems(graph) == [
        "step 'a' field 'buttons[0].next': points to unknown step 'z'",
        "step 'b': unreachable: no path from the start step leads here",
        "step 'a' field 'buttons[0].label': longer than 20 characters",
        "step 'a' field 'text': variable {{nobody}} is never set",
    ]


def test_default_params_count_as_set_variables() -> None:
    graph = {"start": "a", "steps": [{"id": "a", "type": "end", "text": "Hi from {{shop}}"}]}
    assert problems(graph) == ["step 'a' field 'text': variable {{shop}} is never set"]
    assert problems(graph, default_params={"shop": "Lucky"}) == []


def test_a_built_template_can_be_rechecked() -> None:
    assert validate_template(load_template(VALID)) == []


def test_load_template_raises_with_every_problem() -> None:
    with pytest.raises(TemplateInvalid) as caught:
        load_template(
            {"start": "a", "steps": [{"id": "a", "type": "message", "text": "x", "next": "a"}]}
        )
    assert [str(p) for p in caught.value.problems] == [
        "step 'a' field 'next': loop that never waits for the customer: a → a"
    ]


def test_load_template_reads_a_whole_template_document() -> None:
    document = {
        "template_name": "loan",
        "version": 3,
        "menu_structure": {
            "start": "c",
            "steps": [
                {"id": "c", "type": "collect", "next": "e"},
                {"id": "e", "type": "end", "text": "{{amount}}"},
            ],
        },
        "state_schema": {"amount": {"type": "number"}},
        "end_action_type": "api_call",
        "end_action_target": {"endpoint": "https://x"},
        "default_params": {"currency": "EUR"},
    }
    template = load_template(document)
    assert (template.name, template.version, template.end_action_type) == ("loan", 3, "api_call")
    assert template.default_params == {"currency": "EUR"}
    assert load_template(document, name="other").name == "other"


def test_load_template_refuses_a_bad_version() -> None:
    with pytest.raises(TemplateInvalid, match="version"):
        load_template({"template_name": "x", "version": "two", "menu_structure": VALID})


def test_load_template_reads_yaml_text() -> None:
    text = "start: a\nsteps:\n  - {id: a, type: end, text: Bye}\n"
    assert load_template(text, name="y").steps[0].type == "end"


def test_load_template_accepts_the_other_formats() -> None:
    flow = {
        "name": "promo",
        "status": "active",
        "triggers": ["promo"],
        "steps": [{"id": "1", "type": "MessageAction", "message": "Hello"}],
    }
    template = load_template(flow)
    assert (template.name, template.start, template.steps[0].type) == ("promo", "1", "message")


def test_unrecognised_documents_are_refused() -> None:
    with pytest.raises(TemplateInvalid, match="unrecognised template format"):
        load_template({"hello": "world"})
    with pytest.raises(TemplateInvalid, match="not valid JSON or YAML"):
        load_template("{not json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
step_like = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c"]),
        "type": st.sampled_from(["message", "buttons", "list", "ask", "x"]),
    },
    optional={
        "text": json_values,
        "next": json_values,
        "buttons": json_values,
        "sections": json_values,
        "field": json_values,
        "prompt": json_values,
        "input": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(
    graph=st.fixed_dictionaries({"start": json_values, "steps": st.lists(step_like, max_size=4)})
    | json_values
)
def test_validation_reports_problems_and_never_raises_on_arbitrary_documents(graph: Any) -> None:
    for problem in validate_template(graph):
        assert str(problem)


def test_a_step_that_does_not_parse_does_not_hide_the_other_problems() -> None:
    graph = {
        "start": "welcome",
        "steps": [
            {
                "id": "welcome",
                "type": "buttons",
                "text": "Choose",
                "buttons": [
                    {"id": "a", "label": "This label is far too long", "next": "nowhere"},
                    {"id": "b", "label": "Lost", "next": "lost"},
                ],
            },
            {"id": "lost", "type": "warp"},
        ],
    }
    result = problems(graph)
    assert result[0].startswith("step 'lost' field 'type': unknown step type 'warp'")
    assert result[1:] == [
        "step 'welcome' field 'buttons[0].next': points to unknown step 'nowhere'",
        "step 'welcome' field 'buttons[0].label': longer than 20 characters",
    ]
