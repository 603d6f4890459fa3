"""JSON log lines: the fields, extras and the traceback of a logged exception."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from convoflow.log_format import logging_config


@pytest.fixture
def json_logger() -> tuple[logging.Logger, io.StringIO]:
    """A logger writing through the ``json`` formatter of the processes' logging config."""
    config = logging_config("INFO", "json")
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["json"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("convoflow.test_log_format")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_its_extra_fields(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_logger

    logger.warning("sent %d of %s", 3, "5", extra={"customer_key": "15550001", "attempt": 2})

    [entry] = lines(stream)
    assert entry.pop("time").endswith("+00:00")  # type: ignore[union-attr]
    assert entry == {
        "level": "WARNING",
        "logger": "convoflow.test_log_format",
        "message": "sent 3 of 5",
        "customer_key": "15550001",
        "attempt": 2,
    }


def test_an_exception_is_a_field_and_the_record_stays_one_line(
    json_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_logger

    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")

    [entry] = lines(stream)  # the traceback's newlines are escaped inside the string
    assert entry["level"] == "ERROR"
    assert entry["message"] == "lookup failed"
    exception = str(entry["exception"])
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.rstrip().endswith("KeyError: 'missing'")
