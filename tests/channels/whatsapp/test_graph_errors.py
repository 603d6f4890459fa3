"""Classifying Graph API failures: by error code first, HTTP status second."""

from __future__ import annotations

import pickle
from email.utils import formatdate
from typing import Any

import pytest

from convoflow.errors import (
    ConvoflowError,
    GraphError,
    GraphErrorCode,
    PermanentGraphError,
    RetryableGraphError,
    classify_graph_error,
    is_retryable_code,
    parse_retry_after,
)


def envelope(code: Any, message: str = "boom", details: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


RETRYABLE = [
    (130429, 429),  # throughput
    (131056, 400),  # pair rate limit
    (131000, 500),  # unknown
    (131016, 503),  # service unavailable
    (131057, 400),  # maintenance mode
    (1, 400),  # invalid request or possible server error
    (2, 503),  # temporary downtime
    (4, 400),  # app rate limit
    (80007, 400),  # WABA rate limit
]
PERMANENT = [
    (131047, 400),  # re-engagement
    (131026, 400),  # undeliverable
    (131050, 400),  # marketing opt-out
    (131049, 400),  # per-user marketing limit: not within the sender's back-off
    (131048, 400),  # spam rate limit
    (131051, 400),  # unsupported type
    (131052, 400),  # media download
    (131053, 400),  # media upload
    (131008, 400),  # missing parameter
    (131009, 400),  # invalid parameter value
    (131021, 400),  # recipient is the sender
    (131062, 400),  # BSUID recipient not supported
    (131064, 400),
    (100, 400),  # invalid parameter
    (132000, 400),  # template parameter count
    (132001, 404),  # template missing
    (132005, 400),
    (132007, 400),
    (132012, 400),
    (132015, 400),  # template paused
    (132016, 400),  # template disabled
    (132999, 400),  # any 132xxx
    (0, 401),  # AuthException
    (190, 401),  # token expired
    (10, 403),  # permission
    (200, 403),
    (299, 403),
    (368, 403),
    (131031, 403),
    (130497, 403),
    (130403, 400),
]


@pytest.mark.parametrize(("code", "status"), RETRYABLE)
def test_retryable_codes(code: int, status: int) -> None:
    error = classify_graph_error(status, envelope(code))
    assert isinstance(error, RetryableGraphError)
    assert error.code == code and error.http_status == status
    assert is_retryable_code(code) is True


@pytest.mark.parametrize(("code", "status"), PERMANENT)
def test_permanent_codes(code: int, status: int) -> None:
    error = classify_graph_error(status, envelope(code))
    assert isinstance(error, PermanentGraphError)
    assert error.code == code
    assert is_retryable_code(code) is False


def test_code_beats_http_status() -> None:
    # A throughput code is retryable even behind a 400, a template error permanent behind a 503.
    assert isinstance(classify_graph_error(400, envelope(130429)), RetryableGraphError)
    assert isinstance(classify_graph_error(503, envelope(132001)), PermanentGraphError)
    assert isinstance(classify_graph_error(429, envelope(131048)), PermanentGraphError)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, True) for status in (408, 429, 500, 502, 503, 599)],
        *[(status, False) for status in (302, 400, 401, 403, 404, 422)],
    ],
)
def test_unknown_code_falls_back_to_http_status(status: int, retryable: bool) -> None:
    for body in (envelope(999999), None, "<html>Bad gateway</html>", {"error": "x"}, {}):
        error = classify_graph_error(status, body)
        assert isinstance(error, RetryableGraphError) is retryable
        assert isinstance(error, PermanentGraphError) is not retryable


def test_unknown_code_is_unknown() -> None:
    assert is_retryable_code(999999) is None


def test_fields_are_read_from_the_envelope() -> None:
    error = classify_graph_error(
        400,
        envelope(131047, "(#131047) Re-engagement message", "More than 24 hours have passed"),
        {"Content-Type": "application/json"},
    )
    assert error.code == GraphErrorCode.REENGAGEMENT_REQUIRED
    assert error.message == "(#131047) Re-engagement message"
    assert error.details == "More than 24 hours have passed"
    assert error.retry_after is None
    assert str(error) == (
        "(#131047) Re-engagement message: More than 24 hours have passed (code 131047, HTTP 400)"
    )


def test_code_as_string_and_garbage_codes() -> None:
    assert classify_graph_error(400, envelope("130429")).code == 130429
    assert classify_graph_error(400, envelope(True)).code is None
    assert classify_graph_error(400, envelope("9" * 5000)).code is None
    assert classify_graph_error(400, envelope(None)).message == "boom"


def test_message_defaults_when_body_has_none() -> None:
    error = classify_graph_error(502, None)
    assert error.message == "Graph API answered HTTP 502"
    assert error.code is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"RETRY-AFTER": " 7 "}, 7.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "1e308"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_header(headers: dict[str, str] | None, seconds: float | None) -> None:
    assert classify_graph_error(429, envelope(130429), headers).retry_after == seconds


def test_retry_after_http_date() -> None:
    now = 1_750_000_000.0
    assert parse_retry_after(formatdate(now + 120, usegmt=True), now=now) == 120.0
    assert parse_retry_after(formatdate(now - 120, usegmt=True), now=now) == 0.0


def test_tree() -> None:
    assert issubclass(RetryableGraphError, GraphError)
    assert issubclass(PermanentGraphError, GraphError)
    assert issubclass(GraphError, ConvoflowError)
    assert not issubclass(RetryableGraphError, PermanentGraphError)


def test_errors_survive_pickling_for_task_queues() -> None:
    error = classify_graph_error(429, envelope(130429, details="slow down"), {"Retry-After": "3"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RetryableGraphError
    assert (copy.code, copy.http_status, copy.details, copy.retry_after) == (
        130429,
        429,
        "slow down",
        3.0,
    )
