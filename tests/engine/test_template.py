import pytest

from convoflow.engine import Template, TemplateInvalid

GRAPH = {
    "start": "menu",
    "max_retries": 1,
    "cancel_keywords": ["quit"],
    "texts": {"cancelled": "Bye now."},
    "steps": [
        {
            "id": "menu",
            "type": "buttons",
            "text": "Pick",
            "max_retries": 5,
            "buttons": [
                {"id": "a", "label": "A", "next": "ask"},
                {"id": "b", "label": "B", "next": "done"},
            ],
        },
        {
            "id": "ask",
            "type": "ask",
            "field": "n",
            "prompt": "N?",
            "input": "integer",
            "next": "done",
        },
        {"id": "data", "type": "collect", "next": "done"},
        {"id": "done", "type": "end", "text": "Bye"},
    ],
}


def make() -> Template:
    return Template.from_parts(
        name="t",
        version=2,
        menu_structure=GRAPH,
        state_schema={"x": {"type": "string"}, "y": {"type": "string", "required": False}},
        end_action_type="api_call",
        end_action_target={"endpoint": "https://example.com", "method": "POST"},
        default_params={"shop": "Lucky"},
    )


def test_template_is_built_from_a_database_row_parts() -> None:
    template = make()
    assert (template.name, template.version, template.start) == ("t", 2, "menu")
    assert template.default_params == {"shop": "Lucky"}
    assert template.texts.cancelled == "Bye now."


def test_steps_are_indexed_by_id() -> None:
    template = make()
    assert template.step("ask") is template.steps[1]
    assert template.step("nope") is None
    assert set(template.steps_by_id) == {"menu", "ask", "data", "done"}


def test_retry_limits_come_from_the_step_else_the_template() -> None:
    template = make()
    assert template.retries_allowed("menu") == 5
    assert template.retries_allowed("ask") == 1


def test_collect_asks_the_required_schema_fields() -> None:
    assert make().collect_fields("data") == ("x",)


def test_cancel_keywords_are_configurable() -> None:
    template = make()
    assert template.is_cancel(" Quit ")
    assert not template.is_cancel("stop")


def test_template_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        make().name = "other"  # type: ignore[misc]


def test_graph_round_trips_through_to_graph() -> None:
    template = make()
    again = Template.from_parts(name="t", menu_structure=template.to_graph())
    assert again.to_graph() == template.to_graph()
    assert template.to_graph()["steps"][0] == GRAPH["steps"][0]
    assert template.to_graph()["max_retries"] == 1


def test_unparseable_parts_raise_template_invalid_naming_step_and_field() -> None:
    graph = {
        "start": "a",
        "steps": [
            {"id": "a", "type": "buttons", "text": "x", "buttons": [{"id": "1"}]},
            {"id": "b", "type": "nope"},
        ],
    }
    with pytest.raises(TemplateInvalid) as caught:
        Template.from_parts(name="t", menu_structure=graph, state_schema={"n": {"type": "colour"}})
    rendered = [str(problem) for problem in caught.value.problems]
    assert "step 'a' field 'buttons[0].label': required" in rendered
    assert any(text.startswith("step 'b': unknown step type 'nope'") for text in rendered)
    assert any(text.startswith("field 'state_schema.n.type'") for text in rendered)
