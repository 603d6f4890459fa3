import json
from typing import Any

import pytest

from convoflow.engine import TemplateInvalid, load_template, to_flow_runner, to_native
from convoflow.engine.importers import detect_format, parse_document

FLOW = {
    "name": "shop",
    "status": "ACTIVE",
    "triggers": ["shop", "store"],
    "steps": [
        {
            "id": "welcome",
            "type": "MessageAction",
            "message": "Welcome to the shop!",
            "buttons": [
                {"label": "See photos", "next": "photo"},
                {"label": "Talk", "next": "other"},
                {"label": "See photos!", "next": "clip"},
            ],
            "position": {"x": 100, "y": 40},
        },
        {
            "id": "photo",
            "type": "ImageMessage",
            "file": "https://cdn.example.com/p.png",
            "message": "Our shop",
            "next": "clip",
            "position": {"x": 300, "y": 40},
        },
        {
            "id": "clip",
            "type": "VideoMessage",
            "file": "1234567890",
            "message": "A tour",
            "next": "song",
        },
        {
            "id": "song",
            "type": "AudioMessage",
            "file": "https://cdn.example.com/a.ogg",
            "next": "pdf",
        },
        {
            "id": "pdf",
            "type": "DocumentMessage",
            "file": "https://cdn.example.com/menu.pdf",
            "message": "The menu",
            "filename": "menu.pdf",
            "next": "promo",
        },
        {
            "id": "promo",
            "type": "TemplateMessage",
            "template": "spring_sale",
            "language": {"code": "en_GB"},
            "parameters": ["{{contact.name}}"],
            "next": "bye",
        },
        {"id": "bye", "type": "MessageAction", "message": "Bye!", "next": "other"},
        {"id": "other", "type": "ConnectFlowAction", "flow": "main_menu"},
    ],
}


def steps_by_id(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in graph["steps"]}


def without_position(step: dict[str, Any]) -> dict[str, Any]:
    """A step without its canvas position (generated for steps the flow gave none)."""
    return {key: value for key, value in step.items() if key != "position"}


def without_positions(graph: dict[str, Any]) -> dict[str, Any]:
    """A native graph whose steps have no canvas positions."""
    return {**graph, "steps": [without_position(step) for step in graph["steps"]]}


def test_flow_runner_format_is_detected() -> None:
    graph, found = to_native(FLOW)
    assert found == "flow_runner"
    assert graph["start"] == "welcome"


def test_message_action_with_buttons_becomes_a_buttons_step_with_generated_ids() -> None:
    step = steps_by_id(to_native(FLOW)[0])["welcome"]
    assert step["type"] == "buttons"
    assert step["text"] == "Welcome to the shop!"
    assert [b["id"] for b in step["buttons"]] == ["see_photos", "talk", "see_photos_2"]


def test_message_action_without_buttons_becomes_a_message_step() -> None:
    assert without_position(steps_by_id(to_native(FLOW)[0])["bye"]) == {
        "id": "bye",
        "type": "message",
        "text": "Bye!",
        "next": "other",
    }


def test_media_messages_become_media_steps_by_url_or_media_id() -> None:
    steps = steps_by_id(to_native(FLOW)[0])
    assert steps["photo"] == {
        "id": "photo",
        "type": "image",
        "url": "https://cdn.example.com/p.png",
        "caption": "Our shop",
        "next": "clip",
        "position": {"x": 300, "y": 40},
    }
    assert steps["clip"]["type"] == "video"
    assert steps["clip"]["media_id"] == "1234567890"
    assert steps["song"]["type"] == "audio"
    assert steps["pdf"]["filename"] == "menu.pdf"
    assert steps["pdf"]["caption"] == "The menu"


def test_template_message_and_connect_flow_action_are_converted() -> None:
    steps = steps_by_id(to_native(FLOW)[0])
    assert without_position(steps["promo"]) == {
        "id": "promo",
        "type": "template",
        "name": "spring_sale",
        "language": "en_GB",
        "parameters": ["{{contact.name}}"],
        "next": "bye",
    }
    assert without_position(steps["other"]) == {
        "id": "other",
        "type": "connect",
        "template": "main_menu",
    }


def test_builder_positions_are_kept_on_the_steps() -> None:
    template = load_template(FLOW)
    assert template.step("welcome").position == {"x": 100, "y": 40}  # type: ignore[union-attr]


def test_steps_without_a_position_get_one_below_the_given_ones() -> None:
    steps = steps_by_id(to_native(FLOW)[0])
    assert steps["welcome"]["position"] == {"x": 100, "y": 40}
    generated = {
        step_id: (step["position"]["x"], step["position"]["y"])
        for step_id, step in steps.items()
        if step_id not in ("welcome", "photo")
    }
    assert len(set(generated.values())) == len(generated)  # no two on the same spot
    assert all(y > 40 for _, y in generated.values())  # below the laid-out steps
    # Further from the start is further right: clip follows welcome, song follows clip.
    assert generated["clip"][0] < generated["song"][0] < generated["pdf"][0]


def test_a_flow_without_positions_is_laid_out_from_the_start() -> None:
    flow = {
        "name": "plain",
        "triggers": ["plain"],
        "steps": [
            {"id": "a", "type": "MessageAction", "message": "A", "next": "b"},
            {"id": "b", "type": "MessageAction", "message": "B"},
            {"id": "lost", "type": "MessageAction", "message": "never reached"},
        ],
    }
    steps = steps_by_id(to_native(flow)[0])
    assert steps["a"]["position"] == {"x": 0, "y": 0}
    assert steps["b"]["position"]["x"] > 0
    assert steps["lost"]["position"]["x"] > steps["b"]["position"]["x"]


def test_imported_flow_validates() -> None:
    template = load_template(FLOW)
    assert template.name == "shop"
    assert len(template.steps) == 8


def test_import_export_import_gives_the_same_native_graph() -> None:
    graph, _ = to_native(FLOW)
    exported = to_flow_runner("shop", graph, FLOW["triggers"], FLOW["status"])
    assert exported["name"] == "shop"
    assert exported["triggers"] == ["shop", "store"]
    assert exported["steps"][0]["type"] == "MessageAction"
    again, found = to_native(json.loads(json.dumps(exported)))
    assert found == "flow_runner"
    assert again == graph


def test_native_only_steps_pass_through_the_flow_runner_format() -> None:
    graph = {
        "start": "q",
        "max_retries": 2,
        "steps": [
            {
                "id": "q",
                "type": "ask",
                "field": "age",
                "prompt": "Age?",
                "input": "integer",
                "next": "e",
            },
            {"id": "e", "type": "end", "text": "Bye"},
        ],
    }
    exported = to_flow_runner("x", graph)
    assert exported["steps"] == graph["steps"]
    imported, found = to_native(exported)
    assert (without_positions(imported), found) == (graph, "flow_runner")


def test_a_start_other_than_the_first_step_survives_the_round_trip() -> None:
    graph = {
        "start": "b",
        "steps": [
            {"id": "a", "type": "end"},
            {"id": "b", "type": "message", "text": "x", "next": "a"},
        ],
    }
    assert without_positions(to_native(to_flow_runner("x", graph))[0]) == graph


def test_native_graphs_are_copied_unchanged() -> None:
    graph = {"start": "a", "steps": [{"id": "a", "type": "end"}]}
    copied, found = to_native(graph)
    assert (copied, found) == (graph, "native")
    copied["steps"].append({})
    assert len(graph["steps"]) == 1


BUTTON_MESSAGE = {
    "type": "button",
    "header": {"type": "text", "text": "Workshop"},
    "body": {"text": "Your workshop is tomorrow. Need to change it?"},
    "footer": {"text": "Lucky Shrub"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
            {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}},
        ]
    },
}

LIST_MESSAGE = {
    "type": "interactive",
    "interactive": {
        "type": "list",
        "body": {"text": "Which shipping option?"},
        "action": {
            "button": "Shipping",
            "sections": [
                {
                    "title": "Options",
                    "rows": [
                        {
                            "id": "priority_express",
                            "title": "Priority Express",
                            "description": "Next day",
                        },
                        {"id": "ground", "title": "Ground", "description": "5 days"},
                    ],
                }
            ],
        },
    },
}


def test_single_button_message_becomes_a_one_step_menu() -> None:
    graph, found = to_native(BUTTON_MESSAGE)
    assert found == "interactive"
    assert graph == {
        "start": "menu",
        "steps": [
            {
                "id": "menu",
                "type": "buttons",
                "text": "Your workshop is tomorrow. Need to change it?",
                "header": "Workshop",
                "footer": "Lucky Shrub",
                "buttons": [
                    {"id": "change-button", "label": "Change"},
                    {"id": "cancel-button", "label": "Cancel"},
                ],
            }
        ],
    }


def test_single_list_message_becomes_a_one_step_menu() -> None:
    graph, found = to_native(LIST_MESSAGE)
    assert found == "interactive"
    step = graph["steps"][0]
    assert (step["type"], step["button"]) == ("list", "Shipping")
    assert step["sections"][0]["rows"][0]["id"] == "priority_express"


@pytest.mark.parametrize("message", [BUTTON_MESSAGE, LIST_MESSAGE])
def test_interactive_menus_validate(message: dict[str, Any]) -> None:
    assert load_template(message, name="one").start == "menu"


def test_interactive_message_without_action_is_refused() -> None:
    with pytest.raises(TemplateInvalid, match="needs an action"):
        to_native({"type": "interactive", "interactive": {"type": "button"}})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"start": "a", "steps": []}, "native"),
        ({"steps": [], "triggers": []}, "flow_runner"),
        ({"type": "list", "action": {}}, "interactive"),
    ],
)
def test_formats_are_detected(document: dict[str, Any], expected: str) -> None:
    assert detect_format(document) == expected


def test_documents_are_read_from_json_or_yaml_text() -> None:
    assert parse_document('{"start": "a"}') == {"start": "a"}
    assert parse_document("start: a\n") == {"start": "a"}
    with pytest.raises(TemplateInvalid, match="object"):
        parse_document("- a\n- b\n")
