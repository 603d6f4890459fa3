"""Exceptions raised by convoflow, and how Graph API failures are classified.

::

    ConvoflowError                   base of every error convoflow raises on purpose
    ├── SettingsError                a wrong setting, or a service it names is unreachable:
    │                                start-up prints one line naming it and stops
    ├── RequestError                 the caller asked for something that cannot be done;
    │   │                            nothing changed (``http_status`` for the admin API)
    │   ├── NotFound                 404: no such object, or another owner's private one
    │   ├── Conflict                 409: duplicate name, object in use, illegal status change
    │   ├── InvalidData              422: one field outside what the data model allows
    │   ├── InvalidStateData         422: state_data that does not fit the state_schema
    │   ├── Forbidden                403: visible but not yours, or a customer not permitted
    │   │   └── CsrfFailed           403: a signed-in browser's change without its CSRF token
    │   ├── Unauthenticated          401: no API key or sign-in, or an unknown or revoked one
    │   └── TooManyAttempts          429: too many failed sign-ins; ``retry_after`` seconds
    ├── ServiceUnavailable           the database or Redis cannot be reached right now
    │   └── ConversationBusy         the conversation lock was not free in time (retried)
    ├── InvalidArgument              a function called with values it cannot use (a bug)
    ├── SecretKeyError               no key to seal or open stored access tokens, or not the
    │                                key a token was sealed with
    ├── AccessTokenUnavailable       a business number has no usable access token: its
    │                                messages fail (not retried) saying what to set
    └── GraphError                   the WhatsApp Graph API refused a call or was unreachable
        ├── RetryableGraphError      the same request may succeed later: back off and retry
        │                            (HTTP 429/5xx, timeouts, transport errors, throughput and
        │                            pair-rate limits, temporary downtime)
        └── PermanentGraphError      retrying the same request cannot succeed: mark it failed
                                     (outside the 24-hour window, undeliverable, opted out,
                                     template errors, invalid parameters, bad token)

The engine keeps its own small tree (:class:`convoflow.engine.TemplateInvalid` and its
problems), since it imports nothing else of convoflow; :mod:`convoflow.api.errors` maps both
trees to the documented error codes in one place.

Catch :class:`RetryableGraphError` to reschedule, :class:`PermanentGraphError` to give up,
and look at :attr:`GraphError.code` for what to do next (e.g. 131047: send a template;
131056: back off for this recipient only; 130429: back off for the whole number).

Meta asks integrators to classify by error ``code`` rather than HTTP status or subcode, so
:func:`classify_graph_error` looks at the code first and falls back to the status only for
codes it does not know (or bodies without one, such as a proxy's HTML 502 page).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

__all__ = [
    "AccessTokenUnavailable",
    "Conflict",
    "ConversationBusy",
    "ConvoflowError",
    "CsrfFailed",
    "Forbidden",
    "GraphError",
    "GraphErrorCode",
    "InvalidArgument",
    "InvalidData",
    "InvalidStateData",
    "NotFound",
    "PermanentGraphError",
    "RequestError",
    "RetryableGraphError",
    "SecretKeyError",
    "ServiceUnavailable",
    "SettingsError",
    "TooManyAttempts",
    "Unauthenticated",
    "classify_graph_error",
    "is_retryable_code",
    "parse_retry_after",
]


class ConvoflowError(Exception):
    """Base class of every error convoflow raises on purpose."""


class SettingsError(ConvoflowError):
    """A setting has a wrong value, or the service it names cannot be reached.

    The message is one line that names the setting; start-up prints it and stops.
    """


class RequestError(ConvoflowError):
    """What the caller asked for cannot be done; nothing was changed.

    :attr:`http_status` is the status the admin API answers with.
    """

    http_status = 400


class NotFound(RequestError):
    """The object does not exist (or it is another owner's private one)."""

    http_status = 404


class Conflict(RequestError):
    """The change clashes with existing data (duplicate name, object in use, state)."""

    http_status = 409


class InvalidData(RequestError):
    """One value is outside what the data model allows; ``field`` is its path."""

    http_status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidStateData(RequestError):
    """``state_data`` values that do not fit the template's ``state_schema``, by field."""

    http_status = 422

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        names = ", ".join(sorted(self.errors))
        super().__init__(f"state_data does not fit the template's state_schema: {names}")


class Forbidden(RequestError):
    """The caller may see the object but not do this with it."""

    http_status = 403


class CsrfFailed(Forbidden):
    """A change sent with the sign-in cookie lacks the session's CSRF token (or has a
    wrong one): it may come from another site riding on the browser's cookie."""


class Unauthenticated(RequestError):
    """No API key or sign-in, or one that is unknown, revoked or expired."""

    http_status = 401


class TooManyAttempts(RequestError):
    """Too many failed sign-ins for this user name or client: wait ``retry_after`` seconds."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ConvoflowError):
    """A service convoflow needs (the database, Redis) cannot be reached right now."""


class ConversationBusy(ServiceUnavailable, TimeoutError):
    """The conversation's lock could not be taken in time; the work is retried later."""


class ModelProviderError(ConvoflowError):
    """The model provider did not answer usably (timeout, unreachable, error status after the
    retries, a malformed answer). ``kind`` is ``timeout`` or ``error``; the tokens are those
    the provider reported for the failed call, if any (they are counted too)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class InvalidArgument(ConvoflowError, ValueError):
    """A function was called with values it cannot use: a bug in the caller, not bad input."""


class SecretKeyError(ConvoflowError):
    """No key to seal or open tokens with, or the key is not the one a token was sealed with.

    The message is one sentence saying what to set or check.
    """


class AccessTokenUnavailable(ConvoflowError):
    """No usable token for a business number; the message says why and what to set.

    A message from such a number cannot be sent until an operator acts, so it is failed
    with this message rather than retried.
    """


class GraphError(ConvoflowError):
    """The Graph API refused a call, or could not be reached.

    ``code`` is Meta's error code (``None`` for transport errors and bodies without one),
    ``http_status`` the response status (``None`` when no response arrived), ``message``
    Meta's message or ours, ``details`` Meta's ``error_data.details`` and ``retry_after``
    the seconds from a ``Retry-After`` header, when the server sent one.
    """

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        http_status: int | None = None,
        details: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.details = details
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = []
        if self.code is not None:
            where.append(f"code {self.code}")
        if self.http_status is not None:
            where.append(f"HTTP {self.http_status}")
        text = self.message or "Graph API error"
        if self.details and self.details != self.message:
            text = f"{text}: {self.details}"
        return f"{text} ({', '.join(where)})" if where else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, retry_after={self.retry_after!r})"
        )


class RetryableGraphError(GraphError):
    """The same request may succeed later: back off (honour ``retry_after``) and retry."""


class PermanentGraphError(GraphError):
    """Retrying the same request cannot succeed: record the failure with its ``code``."""


class GraphErrorCode(IntEnum):
    """WhatsApp Cloud API error codes the engine acts on by name."""

    THROUGHPUT_LIMIT = 130429  # per business number; back off the whole number
    PAIR_RATE_LIMIT = 131056  # one business number to one user; back off that user only
    REENGAGEMENT_REQUIRED = 131047  # outside the 24-hour window: only templates allowed
    UNDELIVERABLE = 131026
    MARKETING_OPT_OUT = 131050
    MARKETING_PER_USER_LIMIT = 131049  # resend no sooner than 24 h later
    SPAM_RATE_LIMIT = 131048
    UNSUPPORTED_MESSAGE_TYPE = 131051
    MAINTENANCE_MODE = 131057
    BSUID_RECIPIENT_NOT_SUPPORTED = 131062
    TEMPLATE_PARAMETER_MISMATCH = 132000
    TEMPLATE_NOT_FOUND = 132001
    TEMPLATE_PAUSED = 132015
    TEMPLATE_DISABLED = 132016
    INVALID_PARAMETER = 100
    ACCESS_TOKEN_EXPIRED = 190
    USER_BLOCKED_BY_BUSINESS = 130403


RETRYABLE_CODES: frozenset[int] = frozenset(
    {
        1,  # API unknown: invalid request or possible server error
        2,  # API service: temporary downtime or overload
        4,  # application-level API call rate limit
        80007,  # WABA rate limit
        130429,  # throughput reached
        131000,  # something went wrong (unknown)
        131016,  # service unavailable
        131056,  # pair rate limit
        131057,  # account in maintenance mode (throughput upgrade)
    }
)
"""Codes for which the same request may succeed after a back-off."""

PERMANENT_CODES: frozenset[int] = frozenset(
    {
        0,  # AuthException
        10,  # permission denied
        100,  # invalid parameter
        190,  # access token expired or invalid
        368,  # temporarily blocked for policy violations
        130403,  # business blocked this user
        130497,  # business account restricted from messaging users in this country
        131008,  # required parameter missing
        131009,  # parameter value invalid
        131021,  # recipient cannot be the sender
        131026,  # undeliverable
        131031,  # business account locked
        131047,  # re-engagement: outside the 24-hour window
        131048,  # spam rate limit: stop, do not retry soon
        131049,  # per-user marketing limit: not before 24 h, the conversation has moved on
        131050,  # opted out of marketing
        131051,  # unsupported message type
        131052,  # media download error
        131053,  # media upload error
        131062,  # BSUID recipient not supported for this message
        131064,  # template classification violations
    }
)
"""Codes for which retrying the same request cannot succeed (plus the ranges below)."""

_PERMANENT_RANGES = (
    range(200, 300),  # permission errors
    range(132000, 133000),  # template errors
)


def is_retryable_code(code: int) -> bool | None:
    """Tell whether a Graph error code is worth retrying: True, False, or None if unknown.

    Also used for ``statuses[].errors`` codes, which carry no HTTP status.
    """
    if code in RETRYABLE_CODES:
        return True
    if code in PERMANENT_CODES or any(code in span for span in _PERMANENT_RANGES):
        return False
    return None


def _is_retryable_status(http_status: int | None) -> bool:
    return http_status is not None and (http_status in (408, 429) or 500 <= http_status <= 599)


def classify_graph_error(
    http_status: int | None,
    json_body: Any,
    headers: Mapping[str, str] | None = None,
) -> GraphError:
    """Build the right :class:`GraphError` subclass for a failed Graph API response.

    ``json_body`` is the decoded response (anything: an error envelope, None, garbage);
    ``headers`` the response headers, read for ``Retry-After``. The error ``code`` decides
    first (:data:`RETRYABLE_CODES`, :data:`PERMANENT_CODES`, 132xxx, 2xx permission codes);
    an unknown or missing code falls back to the status: 408, 429 and 5xx are retryable,
    anything else is permanent.
    """
    error = json_body.get("error") if isinstance(json_body, Mapping) else None
    if not isinstance(error, Mapping):
        error = {}
    code = _as_code(error.get("code"))
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = f"Graph API answered HTTP {http_status}" if http_status else "Graph API error"
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    retry_after = parse_retry_after(_header(headers, "retry-after"))

    retryable = is_retryable_code(code) if code is not None else None
    if retryable is None:
        retryable = _is_retryable_status(http_status)
    error_class = RetryableGraphError if retryable else PermanentGraphError
    return error_class(
        message,
        code=code,
        http_status=http_status,
        details=details if isinstance(details, str) else "",
        retry_after=retry_after,
    )


def _as_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    # A plain dict is case-sensitive; httpx.Headers is not.
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


_SECONDS = re.compile(r"\d{1,10}(\.\d{1,6})?")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns None for a missing or unreadable value; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)
