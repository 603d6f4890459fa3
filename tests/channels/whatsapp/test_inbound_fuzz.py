"""parse_webhook never raises, whatever JSON-like value it is handed."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.channels.whatsapp.inbound import ParsedWebhook, parse_webhook
from tests.channels.whatsapp.helpers import fixture_names, load_fixture

# Keys the parser looks for, so random objects reach deep into it.
KNOWN_KEYS = [
    "object", "entry", "changes", "field", "value", "metadata", "phone_number_id",
    "display_phone_number", "contacts", "profile", "name", "username", "wa_id", "user_id",
    "messages", "statuses", "errors", "id", "from", "from_user_id", "timestamp", "type",
    "context", "text", "body", "interactive", "button_reply", "list_reply", "nfm_reply",
    "response_json", "title", "button", "payload", "image", "video", "audio", "document",
    "sticker", "caption", "mime_type", "location", "latitude", "longitude", "address",
    "status", "recipient_id", "recipient_user_id", "code", "message", "error_data",
    "details", "biz_opaque_callback_data",
]  # fmt: skip
KNOWN_WORDS = [
    "whatsapp_business_account", "messages", "text", "interactive", "button_reply",
    "list_reply", "nfm_reply", "button", "image", "location", "sent", "failed",
]  # fmt: skip

FIXTURES = [load_fixture(name) for name in fixture_names()]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(KNOWN_WORDS)
    | st.from_regex(r"\d{1,30}", fullmatch=True)
)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=5), children, max_size=6)
    ),
    max_leaves=20,
)


def _check(payload: Any) -> None:
    parsed = parse_webhook(payload)
    assert isinstance(parsed, ParsedWebhook)
    assert all(isinstance(problem, str) for problem in parsed.problems)
    for message in parsed.messages:
        assert message.wamid and (message.wa_id or message.user_id)


@settings(max_examples=200, deadline=None)
@given(json_like)
def test_parse_never_raises_on_arbitrary_values(payload: Any) -> None:
    _check(payload)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), json_like, max_size=8))
def test_parse_never_raises_inside_a_valid_envelope(value: dict[str, Any]) -> None:
    _check(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    payload = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_like)
    return payload


@settings(max_examples=250, deadline=None)
@given(mutated_fixtures())
def test_parse_never_raises_on_mutated_fixtures(payload: Any) -> None:
    _check(payload)
