"""The message objects the engine sends, checked against WhatsApp's limits."""

from collections.abc import Callable
from typing import Any

import pytest

from convoflow.engine import messages
from convoflow.engine.menus import MenuOption

from .helpers import limit_violations


def options(count: int, label: str = "Option") -> list[MenuOption]:
    return [MenuOption(f"o{i}", f"{label} {i}", description="d" * 100) for i in range(count)]


def test_empty_text_is_not_sent() -> None:
    assert messages.text_message("  ") is None


def test_text_is_cut_to_4096_characters() -> None:
    body = messages.text_message("x" * 5000)
    assert body is not None
    assert len(body["text"]["body"]) == 4096


def test_preview_url_is_only_set_when_asked() -> None:
    assert messages.text_message("see https://x.org", preview_url=True) == {
        "type": "text",
        "text": {"body": "see https://x.org", "preview_url": True},
    }


def test_up_to_three_options_are_reply_buttons() -> None:
    body = messages.menu_message("Pick", options(3), header="Head", footer="Foot")
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["header"] == {"type": "text", "text": "Head"}
    assert interactive["footer"] == {"text": "Foot"}
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == ["o0", "o1", "o2"]


def test_four_to_ten_options_are_a_list() -> None:
    body = messages.menu_message("Pick", options(10), button="Choose")
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Choose"
    assert len(interactive["action"]["sections"][0]["rows"]) == 10
    assert limit_violations(body) == []


def test_more_than_ten_options_become_a_numbered_text() -> None:
    body = messages.menu_message("Pick", options(12))
    assert body["type"] == "text"
    assert "12. Option 11" in body["text"]["body"]


def test_over_long_rendered_texts_are_truncated_to_whatsapp_limits() -> None:
    distinct = [MenuOption(f"o{i}", f"{i} " + "L" * 40) for i in range(3)]
    alike = options(3, label="L" * 40)
    for long_options in (distinct, alike):
        body = messages.menu_message(
            "b" * 2000, long_options, button="B" * 30, header="h" * 99, footer="f" * 99
        )
        assert limit_violations(body) == []
    listed = messages.list_message("b" * 2000, "B" * 30, [("S" * 30, options(5, label="L" * 40))])
    assert limit_violations(listed) == []


def test_empty_menu_body_gets_a_default_question() -> None:
    body = messages.menu_message("", options(2))
    assert body["interactive"]["body"]["text"] == messages.DEFAULT_MENU_BODY


def test_section_without_title_gets_the_button_text() -> None:
    body = messages.list_message("Pick", "Products", [("", options(4))])
    assert body["interactive"]["action"]["sections"][0]["title"] == "Products"


def test_media_by_link_or_id_with_caption_and_filename() -> None:
    assert messages.media_message("image", link="https://x/a.png", caption="Hi") == {
        "type": "image",
        "image": {"link": "https://x/a.png", "caption": "Hi"},
    }
    assert messages.media_message("document", media_id="42", filename="a.pdf") == {
        "type": "document",
        "document": {"id": "42", "filename": "a.pdf"},
    }


def test_audio_never_carries_a_caption() -> None:
    assert messages.media_message("audio", link="https://x/a.mp3", caption="Hi") == {
        "type": "audio",
        "audio": {"link": "https://x/a.mp3"},
    }


def test_template_message_names_template_and_language() -> None:
    body = messages.template_message("hello_world", "en_US", [])
    assert body == {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }


# -- WhatsApp's limits, on the messages the engine really sends ----------------------
# The numbers are written out (not read from engine.limits) so a wrong table fails here.

Build = Callable[[str], dict[str, Any]]
Read = Callable[[dict[str, Any]], str]


def _interactive(body: dict[str, Any]) -> dict[str, Any]:
    interactive: dict[str, Any] = body["interactive"]
    return interactive


def _buttons(title: str) -> dict[str, Any]:
    return messages.menu_message("Pick", [MenuOption("a", title), MenuOption("b", "Other")])


def _listed(**changes: str) -> dict[str, Any]:
    """A five-option menu (so a list) with the first option's label/description changed."""
    first = MenuOption("a", changes.get("label", "First"), description=changes.get("info", ""))
    return messages.menu_message("Pick", [first, *options(4)], button=changes.get("opener", "Go"))


TEXT_LIMITS: list[tuple[str, int, Build, Read]] = [
    (
        "text body",
        4096,
        lambda text: messages.text_message(text) or {},
        lambda body: body["text"]["body"],
    ),
    (
        "reply-button body",
        1024,
        lambda text: messages.menu_message(text, options(2)),
        lambda body: _interactive(body)["body"]["text"],
    ),
    (
        "list body",
        1024,
        lambda text: messages.menu_message(text, options(5)),
        lambda body: _interactive(body)["body"]["text"],
    ),
    (
        "header",
        60,
        lambda text: messages.menu_message("Pick", options(2), header=text),
        lambda body: _interactive(body)["header"]["text"],
    ),
    (
        "footer",
        60,
        lambda text: messages.menu_message("Pick", options(5), footer=text),
        lambda body: _interactive(body)["footer"]["text"],
    ),
    (
        "button title",
        20,
        _buttons,
        lambda body: _interactive(body)["action"]["buttons"][0]["reply"]["title"],
    ),
    (
        "list opener",
        20,
        lambda text: _listed(opener=text),
        lambda body: _interactive(body)["action"]["button"],
    ),
    (
        "section title",
        24,
        lambda text: messages.sectioned_menu_message(
            "Pick", "Go", [(text, options(2)), ("Later", [MenuOption("z", "Z")])]
        ),
        lambda body: _interactive(body)["action"]["sections"][0]["title"],
    ),
    (
        "row title",
        24,
        lambda text: _listed(label=text),
        lambda body: _interactive(body)["action"]["sections"][0]["rows"][0]["title"],
    ),
    (
        "row description",
        72,
        lambda text: _listed(info=text),
        lambda body: _interactive(body)["action"]["sections"][0]["rows"][0]["description"],
    ),
    (
        "image caption",
        1024,
        lambda text: messages.media_message("image", link="https://x/a.png", caption=text),
        lambda body: body["image"]["caption"],
    ),
    (
        "document filename",
        240,
        lambda text: messages.media_message("document", media_id="42", filename=text),
        lambda body: body["document"]["filename"],
    ),
]


@pytest.mark.parametrize(
    ("limit", "build", "read"),
    [case[1:] for case in TEXT_LIMITS],
    ids=[case[0] for case in TEXT_LIMITS],
)
def test_a_text_at_the_limit_is_sent_whole_and_one_character_more_is_cut(
    limit: int, build: Build, read: Read
) -> None:
    at_limit = "y" * limit
    assert read(build(at_limit)) == at_limit
    over = read(build("y" * (limit + 1)))
    assert len(over) == limit
    assert over.endswith("…")


def test_option_ids_are_cut_to_256_on_buttons_and_200_on_rows() -> None:
    long_id = "i" * 300
    buttons = messages.reply_buttons_message("Pick", [MenuOption(long_id, "A")])
    assert _interactive(buttons)["action"]["buttons"][0]["reply"]["id"] == "i" * 256
    listed = messages.list_message("Pick", "Go", [("", [MenuOption(long_id, "A")])])
    assert _interactive(listed)["action"]["sections"][0]["rows"][0]["id"] == "i" * 200


def test_three_buttons_at_most_a_fourth_option_makes_a_list() -> None:
    assert _interactive(messages.menu_message("Pick", options(3)))["type"] == "button"
    assert _interactive(messages.menu_message("Pick", options(4)))["type"] == "list"


def test_ten_rows_across_sections_at_most_then_a_numbered_text() -> None:
    first, second = options(5), [MenuOption(f"p{i}", f"Plan {i}") for i in range(6)]
    fits = messages.sectioned_menu_message("Pick", "Go", [("A", first), ("B", second[:5])])
    assert [len(s["rows"]) for s in _interactive(fits)["action"]["sections"]] == [5, 5]
    too_many = messages.sectioned_menu_message("Pick", "Go", [("A", first), ("B", second)])
    assert too_many["type"] == "text"
    assert "11. Plan 5" in too_many["text"]["body"]


def test_ten_sections_of_one_row_each_are_still_a_list() -> None:
    sections = [(f"S{i}", [MenuOption(f"o{i}", f"Option {i}")]) for i in range(10)]
    body = messages.sectioned_menu_message("Pick", "Go", sections)
    assert len(_interactive(body)["action"]["sections"]) == 10
    assert limit_violations(body) == []


def test_every_section_of_a_list_gets_a_title() -> None:
    body = messages.sectioned_menu_message(
        "Pick", "Products", [("Fruit", options(2)), ("  ", [MenuOption("z", "Zucchini")])]
    )
    titles = [s["title"] for s in _interactive(body)["action"]["sections"]]
    assert titles == ["Fruit", "Products"]


def test_labels_alike_once_cut_to_a_button_title_are_sent_as_a_list() -> None:
    alike = [
        MenuOption("home", "Delivery to my home address"),
        MenuOption("office", "Delivery to my home office"),
    ]
    body = messages.menu_message("Where to?", alike)
    interactive = _interactive(body)
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [row["title"] for row in rows] == [
        "Delivery to my home add…",
        "Delivery to my home off…",
    ]
    assert limit_violations(body) == []


def test_labels_differing_only_in_case_are_not_buttons() -> None:
    body = messages.menu_message("Sure?", [MenuOption("1", "Yes"), MenuOption("2", "YES")])
    assert _interactive(body)["type"] == "list"


def test_reply_buttons_have_the_shape_of_metas_example() -> None:
    body = messages.menu_message(
        "Your gardening workshop is tomorrow at 9am. Need to change it?",
        [MenuOption("change-button", "Change"), MenuOption("cancel-button", "Cancel")],
        header="Workshop details",
        footer="Lucky Shrub",
    )
    assert body == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Workshop details"},
            "body": {"text": "Your gardening workshop is tomorrow at 9am. Need to change it?"},
            "footer": {"text": "Lucky Shrub"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}},
                ]
            },
        },
    }


def test_a_list_has_the_shape_of_metas_example() -> None:
    express = MenuOption("priority_express", "Priority Mail Express", description="Next Day")
    ground = MenuOption("usps_ground_advantage", "USPS Ground Advantage", description="2-5 Days")
    body = messages.sectioned_menu_message(
        "Which shipping option do you prefer?",
        "Shipping Options",
        [("I want it ASAP!", [express]), ("I can wait a bit", [ground])],
        header="Choose Shipping Option",
        footer="Lucky Shrub",
    )
    assert body == {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Choose Shipping Option"},
            "body": {"text": "Which shipping option do you prefer?"},
            "footer": {"text": "Lucky Shrub"},
            "action": {
                "button": "Shipping Options",
                "sections": [
                    {
                        "title": "I want it ASAP!",
                        "rows": [
                            {
                                "id": "priority_express",
                                "title": "Priority Mail Express",
                                "description": "Next Day",
                            }
                        ],
                    },
                    {
                        "title": "I can wait a bit",
                        "rows": [
                            {
                                "id": "usps_ground_advantage",
                                "title": "USPS Ground Advantage",
                                "description": "2-5 Days",
                            }
                        ],
                    },
                ],
            },
        },
    }


def test_media_have_the_shape_of_metas_examples() -> None:
    assert messages.media_message(
        "image", media_id="1479537139650973", caption="The best succulent ever?"
    ) == {
        "type": "image",
        "image": {"id": "1479537139650973", "caption": "The best succulent ever?"},
    }
    assert messages.media_message(
        "document",
        link="https://example.com/invoices/abc123.pdf",
        filename="order_abc123.pdf",
        caption="Your order confirmation (PDF)",
    ) == {
        "type": "document",
        "document": {
            "link": "https://example.com/invoices/abc123.pdf",
            "caption": "Your order confirmation (PDF)",
            "filename": "order_abc123.pdf",
        },
    }
    assert messages.media_message("video", media_id="1166846181421424") == {
        "type": "video",
        "video": {"id": "1166846181421424"},
    }


def test_only_documents_carry_a_filename() -> None:
    body = messages.media_message("image", media_id="1", filename="a.png")
    assert body == {"type": "image", "image": {"id": "1"}}


def test_template_components_go_out_as_given() -> None:
    components = [
        {"type": "body", "parameters": [{"type": "text", "text": "Jessica"}]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "track:SKBUP2-4CPIG9"}],
        },
    ]
    body = messages.template_message("order_confirmation", "en_US", components)
    assert body == {
        "type": "template",
        "template": {
            "name": "order_confirmation",
            "language": {"code": "en_US"},
            "components": components,
        },
    }
