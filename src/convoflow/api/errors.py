"""One JSON shape for every admin API error: ``{"error": {"code", "message", "details"}}``.

Services raise the data-layer errors (:mod:`convoflow.errors`), the access errors
(:mod:`convoflow.services.access.callers`) or :class:`~convoflow.engine.TemplateInvalid`; the
handlers here translate them to HTTP. Requests outside ``/api`` keep FastAPI's defaults.

There is one ``code`` per kind of mistake, whatever raised it (the table of
:data:`STATUS_CODES`, also in docs/api.md): every 422 is ``validation_error`` — a body
or parameter that does not fit the schema, malformed JSON, a refused template, state data
that does not fit the state schema — and its ``details`` name each field by its path in
the request (``menu_structure.steps.ask_amount.options[2].title``, ``trigger_keywords[1]``,
``state_data.amount``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from convoflow.api.schemas.common import ErrorBody, ErrorDetail, ErrorResponse
from convoflow.api.validation_paths import validation_details
from convoflow.engine import TemplateInvalid
from convoflow.errors import (
    Conflict,
    CsrfFailed,
    Forbidden,
    InvalidData,
    InvalidStateData,
    NotFound,
    RequestError,
    TooManyAttempts,
    Unauthenticated,
)

API_PREFIX = "/api/"

STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}
#: The 403 of a change sent by cookie without the sign-in's CSRF token.
CSRF_FAILED = "csrf_failed"

_DESCRIPTIONS: dict[int, str] = {
    401: "No API key or sign-in, or an unknown, revoked or expired one.",
    403: "The object is visible but not yours to change, or the customer is not permitted; "
    "`csrf_failed`: a change signed in by cookie without its `X-CSRF-Token`.",
    404: "No such object (or it belongs to another owner).",
    409: "The change clashes with existing data (duplicate name, object in use, state).",
    422: "The request is invalid; `details` names each step and field.",
    429: "Too many failed sign-ins; `Retry-After` says how many seconds to wait.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error shape for these status codes."""
    return {
        code: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(code, "Error.")}
        for code in codes
    }


def error_response(
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    details: Iterable[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the one error shape."""
    body = ErrorResponse(
        error=ErrorBody(
            code=code or STATUS_CODES.get(status_code, "error"),
            message=message,
            details=list(details),
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _unauthenticated(_request: Request, exc: Exception) -> Response:
    return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})


async def _forbidden(_request: Request, exc: Exception) -> Response:
    return error_response(403, str(exc))


async def _csrf_failed(_request: Request, exc: Exception) -> Response:
    return error_response(403, str(exc), code=CSRF_FAILED)


async def _too_many_attempts(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyAttempts)
    return error_response(429, str(exc), headers={"Retry-After": str(exc.retry_after)})


async def _not_found(_request: Request, exc: Exception) -> Response:
    return error_response(404, str(exc))


async def _conflict(_request: Request, exc: Exception) -> Response:
    return error_response(409, str(exc))


async def _request_error(_request: Request, exc: Exception) -> Response:
    """Any other :class:`RequestError`: its own status, the status's code."""
    assert isinstance(exc, RequestError)
    return error_response(exc.http_status, str(exc))


async def _integrity(_request: Request, _exc: Exception) -> Response:
    return error_response(409, "the change clashes with existing data; reload and try again")


async def _invalid_data(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidData)
    detail = ErrorDetail(field=exc.field, message=exc.message)
    return error_response(422, str(exc), details=[detail])


async def _invalid_template(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TemplateInvalid)
    details = [ErrorDetail(**problem.to_json()) for problem in exc.problems]
    count = len(details)
    message = f"the template has {count} problem{'s' if count != 1 else ''}"
    return error_response(422, message, details=details)


async def _invalid_state_data(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidStateData)
    details = [
        ErrorDetail(field=f"state_data.{name}", message=message)
        for name, message in sorted(exc.errors.items())
    ]
    return error_response(422, str(exc), details=details)


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not _is_api(request):
        return await request_validation_exception_handler(request, exc)
    details = validation_details(exc.errors(), exc.body)
    return error_response(422, "the request is invalid", details=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not _is_api(request):
        return await http_exception_handler(request, exc)
    message = exc.detail if isinstance(exc.detail, str) else "the request failed"
    if exc.status_code == 400:  # FastAPI could not parse the body: malformed input, like 422
        return error_response(422, message)
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn our errors into the one JSON shape."""
    # Starlette picks the handler of the nearest class in the error's MRO, so the
    # catch-all for RequestError only answers for kinds without their own handler.
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(TooManyAttempts, _too_many_attempts)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(InvalidData, _invalid_data)
    app.add_exception_handler(TemplateInvalid, _invalid_template)
    app.add_exception_handler(InvalidStateData, _invalid_state_data)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
