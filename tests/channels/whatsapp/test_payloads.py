"""Outbound payload builders and WhatsApp's limits."""

from __future__ import annotations

from typing import Any

import pytest

from convoflow.channels.whatsapp import payloads
from convoflow.channels.whatsapp.payloads import (
    ListRow,
    ListSection,
    ReplyButton,
    check_limits,
)


def test_text() -> None:
    assert payloads.text("hi") == {"type": "text", "text": {"body": "hi"}}
    assert payloads.text("see https://x.io", preview_url=True)["text"]["preview_url"] is True


def test_text_limit() -> None:
    payloads.text("x" * 4096)
    with pytest.raises(ValueError, match=r"text\.body: 4097 characters, at most 4096"):
        payloads.text("x" * 4097)
    with pytest.raises(ValueError, match="missing or empty"):
        payloads.text("")


def test_reply_buttons_shape() -> None:
    body = payloads.reply_buttons(
        "Need to change it?",
        [ReplyButton("change", "Change"), ("cancel", "Cancel")],
        header="Workshop details",
        footer="Lucky Shrub",
    )
    assert body == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Workshop details"},
            "body": {"text": "Need to change it?"},
            "footer": {"text": "Lucky Shrub"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                ]
            },
        },
    }


def test_reply_buttons_with_media_header() -> None:
    header = {"type": "image", "image": {"link": "https://example.com/a.png"}}
    body = payloads.reply_buttons("Pick", [("a", "A")], header=header)
    assert body["interactive"]["header"] == header


@pytest.mark.parametrize(
    ("buttons", "message"),
    [
        ([("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")], "4 buttons, at most 3"),
        ([], "1 to 3 buttons required"),
        ([("a", "x" * 21)], r"buttons\[0\]\.reply\.title: 21 characters, at most 20"),
        ([("a", "Same"), ("b", "Same")], r"buttons\[1\]\.reply\.title: duplicate 'Same'"),
        ([("a", "One"), ("a", "Two")], r"buttons\[1\]\.reply\.id: duplicate 'a'"),
        ([("i" * 257, "A")], r"reply\.id: 257 characters, at most 256"),
    ],
)
def test_reply_buttons_limits(buttons: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        payloads.reply_buttons("Pick one", buttons)


def test_reply_buttons_body_header_footer_limits() -> None:
    with pytest.raises(ValueError, match=r"interactive\.body\.text: 1025 characters"):
        payloads.reply_buttons("x" * 1025, [("a", "A")])
    with pytest.raises(ValueError, match=r"interactive\.header\.text: 61 characters"):
        payloads.reply_buttons("Pick", [("a", "A")], header="h" * 61)
    with pytest.raises(ValueError, match=r"interactive\.footer\.text: 61 characters"):
        payloads.reply_buttons("Pick", [("a", "A")], footer="f" * 61)


def _rows(count: int, prefix: str = "r") -> list[ListRow]:
    return [ListRow(f"{prefix}{i}", f"Row {i}") for i in range(count)]


def test_list_message_shape() -> None:
    body = payloads.list_message(
        "Which shipping option?",
        "Shipping Options",
        [
            ListSection("I want it ASAP!", [ListRow("express", "Express", "Next Day")]),
            ListSection("I can wait a bit", [ListRow("ground", "Ground")]),
        ],
        header="Choose Shipping",
    )
    assert body["interactive"]["type"] == "list"
    assert body["interactive"]["action"] == {
        "button": "Shipping Options",
        "sections": [
            {
                "title": "I want it ASAP!",
                "rows": [{"id": "express", "title": "Express", "description": "Next Day"}],
            },
            {"title": "I can wait a bit", "rows": [{"id": "ground", "title": "Ground"}]},
        ],
    }


@pytest.mark.parametrize(
    ("button", "sections", "message"),
    [
        ("Open", [ListSection("All", _rows(11))], "11 rows in total, at most 10"),
        (
            "Open",
            [ListSection("A", _rows(6, "a")), ListSection("B", _rows(5, "b"))],
            "11 rows in total",
        ),
        ("Open", [ListSection("A", _rows(1, "x")), ListSection("B", _rows(1, "x"))], "duplicate"),
        ("Open", [ListSection("A", [ListRow("r", "t" * 25)])], r"rows\[0\]\.title: 25 characters"),
        (
            "Open",
            [ListSection("A", [ListRow("r", "t", "d" * 73)])],
            r"rows\[0\]\.description: 73 characters, at most 72",
        ),
        ("Open", [ListSection("s" * 25, _rows(1))], r"sections\[0\]\.title: 25 characters"),
        ("b" * 21, [ListSection("A", _rows(1))], r"action\.button: 21 characters, at most 20"),
        ("Open", [], "1 to 10 sections required"),
        ("Open", [ListSection("A", [])], "at least 1 row required"),
        ("Open", [ListSection("", _rows(1, "a")), ListSection("B", _rows(1, "b"))], "title"),
    ],
)
def test_list_limits(button: str, sections: list[ListSection], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        payloads.list_message("Pick", button, sections)


def test_single_section_may_omit_its_title() -> None:
    payloads.list_message("Pick", "Open", [ListSection("", _rows(3))])


def test_media_by_id_or_link() -> None:
    assert payloads.image(media_id="1479537139650973", caption="The best succulent ever?") == {
        "type": "image",
        "image": {"id": "1479537139650973", "caption": "The best succulent ever?"},
    }
    assert payloads.document(
        link="https://example.com/invoices/abc123.pdf",
        filename="order_abc123.pdf",
        caption="Your order",
    ) == {
        "type": "document",
        "document": {
            "link": "https://example.com/invoices/abc123.pdf",
            "caption": "Your order",
            "filename": "order_abc123.pdf",
        },
    }
    assert payloads.video(media_id="1166846181421424")["video"] == {"id": "1166846181421424"}
    assert payloads.audio(media_id="1013859600285441", voice=True)["audio"] == {
        "id": "1013859600285441",
        "voice": True,
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: payloads.image(), "exactly one of id and link"),
        (lambda: payloads.image(media_id="1", link="https://x.io/a.png"), "exactly one"),
        (lambda: payloads.video(link="ftp://x.io/a.mp4"), r"video\.link: must be an http\(s\)"),
        (lambda: payloads.image(media_id="1", caption="c" * 1025), "1025 characters, at most 1024"),
    ],
)
def test_media_limits(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_template_with_parameters() -> None:
    body = payloads.template(
        "order_confirmation",
        "en_US",
        header_params=["Jessica"],
        body_params={"first_name": "Jessica", "order_number": "SKBUP2-4CPIG9"},
        quick_reply_payloads=["track:SKBUP2-4CPIG9"],
    )
    assert body == {
        "type": "template",
        "template": {
            "name": "order_confirmation",
            "language": {"code": "en_US"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "Jessica"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "first_name", "text": "Jessica"},
                        {"type": "text", "parameter_name": "order_number", "text": "SKBUP2-4CPIG9"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "track:SKBUP2-4CPIG9"}],
                },
            ],
        },
    }


def test_template_without_parameters_has_no_components() -> None:
    assert payloads.template("hello_world", "en_US") == {
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Order-Confirmation", "language_code": "en_US"}, "lowercase letters"),
        ({"name": "ok", "language_code": ""}, r"language\.code"),
        ({"name": "ok", "language_code": "en", "body_params": [""]}, r"parameters\[0\]\.text"),
        ({"name": "ok", "language_code": "en", "body_params": "oops"}, "not one string"),
        ({"name": "ok", "language_code": "en", "components": [{"x": 1}]}, "with a type"),
    ],
)
def test_template_limits(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        payloads.template(**kwargs)


def test_check_limits_accepts_valid_bodies_from_elsewhere() -> None:
    assert check_limits({"type": "text", "text": {"body": "hi"}}) == []
    assert check_limits({"type": "location", "location": {"latitude": 1, "longitude": 2}}) == []


def test_check_limits_reports_every_problem_at_once() -> None:
    body = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "x" * 2000},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": str(i), "title": str(i) * 30}}
                    for i in range(4)
                ]
            },
        },
    }
    problems = check_limits(body)
    assert len(problems) == 6  # body, count, and four titles
    assert problems[0].startswith("interactive.body.text: 2000 characters, at most 1024")


@pytest.mark.parametrize(
    "body",
    [
        None,
        "text",
        [],
        {},
        {"type": 5},
        {"type": "carrier_pigeon"},
        {"type": "text"},
        {"type": "text", "text": {"body": 5}},
        {"type": "interactive", "interactive": {"type": "button", "action": "x"}},
        {
            "type": "interactive",
            "interactive": {"type": "list", "body": {"text": "b"}, "action": {}},
        },
        {"type": "interactive", "interactive": {"header": {"type": "video"}, "body": {}}},
        {"type": "image", "image": ["id"]},
        {"type": "audio", "audio": {"id": "1", "caption": "no captions on audio"}},
        {"type": "template", "template": {"name": "x", "language": {}, "components": "x"}},
    ],
)
def test_check_limits_reports_garbage_without_raising(body: Any) -> None:
    assert check_limits(body)
