"""parse_webhook on one fixture per update type, on batches, and on broken shapes."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from convoflow.channels.whatsapp.inbound import (
    ErrorDetail,
    InboundMessage,
    customer_key,
    parse_webhook,
)
from convoflow.engine.events import (
    ChoiceReceived,
    Event,
    LocationReceived,
    MediaReceived,
    TextReceived,
)
from tests.channels.whatsapp.helpers import fixture_names, load_fixture

PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"
BSUID = "US.13491208655302741918"

# fixture -> (message type, event) for its single message
SINGLE_MESSAGE_FIXTURES: dict[str, tuple[str, Event | None]] = {
    "text": ("text", TextReceived("Does it come in another color?")),
    "button_reply": ("interactive", ChoiceReceived("cancel-button", "Cancel")),
    "list_reply": ("interactive", ChoiceReceived("priority_express", "Priority Mail Express")),
    "template_button": ("button", ChoiceReceived("unsubscribe:order-4711", "Unsubscribe")),
    "image": ("image", MediaReceived("image", "1003383421387256", "Taj Mahal", "image/jpeg")),
    "video": (
        "video",
        MediaReceived("video", "1166846181421424", "A succulent eclipse!", "video/mp4"),
    ),
    "audio": ("audio", MediaReceived("audio", "1013859600285441", "", "audio/ogg; codecs=opus")),
    "document": (
        "document",
        MediaReceived("document", "1376223850470843", "My invoice", "application/pdf"),
    ),
    "sticker": ("sticker", MediaReceived("sticker", "1234567890123456", "", "image/webp")),
    "location": (
        "location",
        LocationReceived(
            37.483307, -122.148981, "Philz Coffee", "101 Forest Ave, Palo Alto, CA 94301"
        ),
    ),
    "nfm_reply": (
        "interactive",
        TextReceived('{"flow_token": "signup-4711", "email": "sheena@example.com", "plan": "pro"}'),
    ),
    "contacts": ("contacts", None),
    "reaction": ("reaction", None),
    "order": ("order", None),
    "system": ("system", None),
    "unsupported": ("unsupported", None),
    "request_welcome": ("request_welcome", None),
    "bsuid_only": ("text", TextReceived("hi")),
}
STATUS_FIXTURES = {"status_sent", "status_delivered_read_batch", "status_failed_no_contacts"}
OTHER_FIXTURES = {"errors_only", "multi_entry"}


def test_every_fixture_file_has_expectations() -> None:
    expected = set(SINGLE_MESSAGE_FIXTURES) | STATUS_FIXTURES | OTHER_FIXTURES
    assert set(fixture_names()) == expected


@pytest.mark.parametrize("name", sorted(SINGLE_MESSAGE_FIXTURES))
def test_single_message_fixture_maps_to_its_event(name: str) -> None:
    payload = load_fixture(name)
    parsed = parse_webhook(payload)

    assert parsed.problems == []
    assert parsed.statuses == [] and parsed.errors == []
    [message] = parsed.messages
    message_type, event = SINGLE_MESSAGE_FIXTURES[name]
    assert message.type == message_type
    assert message.event == event
    assert message.phone_number_id == PHONE_NUMBER_ID
    assert message.display_phone_number == "15550783881"
    assert message.profile_name == (None if name == "system" else "Sheena Nelson")
    assert message.raw is payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message.wamid == message.raw["id"]
    assert message.timestamp == int(message.raw["timestamp"])


def test_text_message_fields() -> None:
    [message] = parse_webhook(load_fixture("text")).messages
    assert message == InboundMessage(
        wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        phone_number_id=PHONE_NUMBER_ID,
        display_phone_number="15550783881",
        wa_id=CUSTOMER,
        user_id=None,
        profile_name="Sheena Nelson",
        timestamp=1749416383,
        type="text",
        context_wamid=None,
        raw=message.raw,
        event=TextReceived("Does it come in another color?"),
    )
    assert customer_key(message) == CUSTOMER
    assert len({message, message}) == 1  # hashable despite the raw dict


def test_replies_carry_the_quoted_wamid() -> None:
    [message] = parse_webhook(load_fixture("button_reply")).messages
    assert message.context_wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
    assert message.user_id == BSUID and message.wa_id == CUSTOMER


def test_bsuid_only_customer_is_keyed_on_the_bsuid() -> None:
    [message] = parse_webhook(load_fixture("bsuid_only")).messages
    assert message.wa_id is None
    assert message.user_id == BSUID
    assert message.username == "sheena.n"
    assert message.profile_name == "Sheena Nelson"
    assert customer_key(message) == BSUID


def test_customer_key_needs_an_id() -> None:
    [message] = parse_webhook(load_fixture("text")).messages
    anonymous = dataclasses.replace(message, wa_id=None, user_id=None)
    with pytest.raises(ValueError, match="neither wa_id nor user_id"):
        customer_key(anonymous)


def test_status_sent() -> None:
    parsed = parse_webhook(load_fixture("status_sent"))
    assert parsed.problems == [] and parsed.messages == []
    [status] = parsed.statuses
    assert status.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"
    assert status.status == "sent"
    assert status.timestamp == 1750263770
    assert status.recipient_id == CUSTOMER
    assert status.recipient_user_id == BSUID
    assert status.callback_data == "flow=checkout;step=3"
    assert status.errors == ()
    assert status.raw["pricing"]["pricing_model"] == "PMP"


def test_delivered_and_read_batched_in_one_change() -> None:
    parsed = parse_webhook(load_fixture("status_delivered_read_batch"))
    assert [(s.status, s.timestamp) for s in parsed.statuses] == [
        ("delivered", 1750263773),
        ("read", 1750263801),
    ]
    assert parsed.problems == []


def test_failed_status_without_contacts_carries_its_error() -> None:
    parsed = parse_webhook(load_fixture("status_failed_no_contacts"))
    [status] = parsed.statuses
    assert status.status == "failed"
    assert status.recipient_user_id is None
    [error] = status.errors
    assert error == ErrorDetail(
        131047,
        "Re-engagement message",
        "Re-engagement message",
        "More than 24 hours have passed since the recipient last replied to the sender number.",
    )
    assert error.code == 131047


def test_value_level_errors_become_notices() -> None:
    parsed = parse_webhook(load_fixture("errors_only"))
    assert parsed.messages == [] and parsed.statuses == [] and parsed.problems == []
    [notice] = parsed.errors
    assert notice.phone_number_id == PHONE_NUMBER_ID
    assert notice.code == 130429
    assert notice.title == "Rate limit hit"
    assert notice.details == "Cloud API message throughput has been reached."


def test_multi_entry_batch_yields_every_customer_in_order() -> None:
    parsed = parse_webhook(load_fixture("multi_entry"))
    assert parsed.problems == []
    assert [(m.wamid, customer_key(m), m.profile_name) for m in parsed.messages] == [
        ("wamid.TEST.A", CUSTOMER, "Sheena Nelson"),
        ("wamid.TEST.B", "14155550123", "Pablo Morales"),
        ("wamid.TEST.C", CUSTOMER, "Sheena Nelson"),
        ("wamid.TEST.D", "JP.88231234567890", "Aiko Tanaka"),
    ]
    assert parsed.messages[3].phone_number_id == "209876543210987"
    assert [s.wamid for s in parsed.statuses] == ["wamid.TEST.OUT1"]


def test_unsupported_message_is_stored_with_its_errors() -> None:
    [message] = parse_webhook(load_fixture("unsupported")).messages
    assert message.event is None
    assert message.raw["errors"][0]["code"] == 131051


def _text_payload() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("text"))


def _first_message(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]  # type: ignore[no-any-return]


def test_message_without_id_is_skipped_and_noted() -> None:
    payload = _text_payload()
    del _first_message(payload)["id"]
    parsed = parse_webhook(payload)
    assert parsed.messages == []
    assert parsed.problems == [
        "entry[0].changes[0].value.messages[0]: no usable id (null); skipped"
    ]


def test_message_matched_to_contact_when_from_is_absent() -> None:
    payload = _text_payload()
    del _first_message(payload)["from"]
    [message] = parse_webhook(payload).messages
    assert message.wa_id == CUSTOMER
    assert message.profile_name == "Sheena Nelson"


def test_message_with_no_customer_at_all_is_skipped() -> None:
    payload = _text_payload()
    del _first_message(payload)["from"]
    del payload["entry"][0]["changes"][0]["value"]["contacts"]
    parsed = parse_webhook(payload)
    assert parsed.messages == []
    assert "no from, from_user_id or matching contact" in parsed.problems[0]


def test_contact_of_another_customer_is_not_borrowed() -> None:
    payload = _text_payload()
    _first_message(payload)["from"] = "19998887777"
    [message] = parse_webhook(payload).messages
    assert message.wa_id == "19998887777"
    assert message.profile_name is None


def test_change_without_phone_number_id_is_not_routed() -> None:
    payload = _text_payload()
    del payload["entry"][0]["changes"][0]["value"]["metadata"]
    parsed = parse_webhook(payload)
    assert parsed.messages == []
    assert "phone_number_id" in parsed.problems[0]


def test_unreadable_timestamp_keeps_the_message_at_zero() -> None:
    payload = _text_payload()
    _first_message(payload)["timestamp"] = "9" * 100_000  # int() would refuse this
    parsed = parse_webhook(payload)
    assert parsed.messages[0].timestamp == 0
    assert "timestamp" in parsed.problems[0]


def test_huge_wamid_is_refused() -> None:
    payload = _text_payload()
    _first_message(payload)["id"] = "wamid." + "A" * 1_000_000
    parsed = parse_webhook(payload)
    assert parsed.messages == []
    assert "string of 1000006 characters" in parsed.problems[0]


def test_malformed_text_is_stored_without_event() -> None:
    payload = _text_payload()
    _first_message(payload)["text"] = "just a string"
    parsed = parse_webhook(payload)
    [message] = parsed.messages
    assert message.event is None
    assert "text message without text.body" in parsed.problems[0]


def test_other_change_fields_are_ignored_quietly() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"x": 1}}]}],
    }
    parsed = parse_webhook(payload)
    assert parsed.messages == [] and parsed.problems == []


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (None, "payload: expected an object, got null"),
        ("entry", "payload: expected an object, got string of 5 characters"),
        ([], "payload: expected an object, got array"),
        ({"object": "page", "entry": []}, "object: not a WhatsApp webhook"),
        ({"entry": "x"}, "entry: expected an array, got string of 1 characters"),
        ({"entry": [7]}, "entry[0]: expected an object with a changes array; skipped"),
        ({"entry": [{"changes": [None]}]}, "entry[0].changes[0]: expected an object with a value"),
        (
            {"entry": [{"changes": [{"value": {"metadata": {}, "messages": {}}}]}]},
            "entry[0].changes[0].value.messages: expected an array, got object; skipped",
        ),
    ],
)
def test_wrong_shapes_are_noted_not_raised(payload: Any, problem: str) -> None:
    parsed = parse_webhook(payload)
    assert parsed.messages == [] and parsed.statuses == []
    assert parsed.problems[0].startswith(problem)


def test_one_bad_message_does_not_spoil_the_batch() -> None:
    payload = load_fixture("multi_entry")
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    messages.insert(1, "garbage")
    messages.insert(2, {"id": {"nested": ["garbage"]}, "from": 5})
    parsed = parse_webhook(payload)
    assert [m.wamid for m in parsed.messages] == [
        "wamid.TEST.A",
        "wamid.TEST.B",
        "wamid.TEST.C",
        "wamid.TEST.D",
    ]
    assert len(parsed.problems) == 2


@pytest.mark.parametrize(
    ("message_type", "content", "event"),
    [
        ("location", {"latitude": "52.52", "longitude": "13.40"}, LocationReceived(52.52, 13.4)),
        ("location", {"latitude": 91, "longitude": 0}, None),
        ("location", {"latitude": "nan", "longitude": 0}, None),
        ("location", {"latitude": 10**400, "longitude": 0}, None),
        ("button", {"text": "Yes"}, ChoiceReceived("Yes", "Yes")),
        ("button", {}, None),
        ("image", "not an object", None),
        ("image", {}, MediaReceived("image")),
    ],
)
def test_event_mapping_edge_cases(message_type: str, content: Any, event: Event | None) -> None:
    payload = _text_payload()
    message = _first_message(payload)
    del message["text"]
    message["type"] = message_type
    message[message_type] = content
    [parsed] = parse_webhook(payload).messages
    assert parsed.event == event


@pytest.mark.parametrize(
    "interactive",
    [
        None,
        {"type": "button_reply", "button_reply": {"title": "No id"}},
        {"type": "list_reply", "list_reply": "x"},
        {"type": "nfm_reply", "nfm_reply": {"response_json": {"already": "decoded"}}},
        {"type": "call_permission_reply", "call_permission_reply": {"response": "accept"}},
        {"type": ["weird"]},
    ],
)
def test_unusable_interactive_replies_give_no_event(interactive: Any) -> None:
    payload = _text_payload()
    message = _first_message(payload)
    message["type"] = "interactive"
    message["interactive"] = interactive
    [parsed] = parse_webhook(payload).messages
    assert parsed.event is None
