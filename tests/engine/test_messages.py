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
    long_options = options(3, label="L" * 40)
    body = messages.reply_buttons_message(
        "b" * 2000, long_options, header="h" * 99, footer="f" * 99
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
