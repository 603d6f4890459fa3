"""How ``convoflow serve`` and ``convoflow worker`` log (``CONVOFLOW_LOG_FORMAT``).

``text`` (the default): ``time LEVEL logger: message`` lines, uvicorn's own lines as
uvicorn prints them. ``json``: one JSON object per line for every logger, uvicorn's access
and error loggers included, with ``time`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, any ``extra`` fields, and ``exception`` (the formatted traceback) when there
is one. Both go to standard error, except uvicorn's access lines (standard output, as
uvicorn does).

This module imports nothing of convoflow.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging", "logging_config"]

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has: anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """``{"time", "level", "logger", "message", ...extra, "exception"?}``."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            entry.update(zip(_ACCESS_FIELDS, args, strict=True))
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of a process: the root logger and uvicorn's
    loggers at ``level``, in ``log_format`` (one of :data:`LOG_FORMATS`). uvicorn takes it
    as its ``log_config``."""
    as_json = log_format == "json"
    formatters: dict[str, Any] = {
        "json": {"()": JsonFormatter},
        "text": {"format": TEXT_FORMAT},
        "uvicorn": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "uvicorn_access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    }

    def handler(formatter: str, stream: str = "ext://sys.stderr") -> dict[str, str]:
        return {
            "class": "logging.StreamHandler",
            "formatter": "json" if as_json else formatter,
            "stream": stream,
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": handler("text"),
            "uvicorn": handler("uvicorn"),
            "uvicorn_access": handler("uvicorn_access", "ext://sys.stdout"),
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {
                "handlers": ["uvicorn_access"],
                "level": level,
                "propagate": False,
            },
        },
    }


def configure_logging(level: str, log_format: str) -> dict[str, Any]:
    """Apply :func:`logging_config` to this process; return it (for uvicorn)."""
    config = logging_config(level, log_format)
    logging.config.dictConfig(config)
    return config
