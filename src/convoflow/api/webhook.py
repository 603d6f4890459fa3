"""``/webhooks/whatsapp``: Meta's verification handshake and signed webhook deliveries.

POST answers, in this order: 503 when no app secret is configured (unless unsigned webhooks
are allowed for local testing), 413 over :data:`MAX_BODY_BYTES`, 401 for a missing or wrong
``X-Hub-Signature-256``, 400 for a body that is not JSON, 503 when the database cannot be
reached (or its transaction failed transiently), else 200 once every message and status is
committed. Processing then continues in the background; Meta retries anything not answered
200, and everything answered 200 is durable.

A database or Redis outage is logged by the process's :class:`~convoflow.outages.Outages`:
one line when it starts, a summary while it lasts, one line when it ends, however many
webhooks arrive meanwhile.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.channels.whatsapp.signature import (
    SIGNATURE_HEADER,
    verify_handshake,
    verify_signature,
)
from convoflow.errors import InvalidArgument
from convoflow.metrics import observe_batch, observe_webhook
from convoflow.runtime import Runtime
from convoflow.services.inbox.webhook import PhoneNumberDirectory, ReceivedWebhook
from convoflow.store.transient import DATABASE, REDIS

__all__ = ["MAX_BODY_BYTES", "WEBHOOK_PATH", "WebhookFastPath", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["whatsapp"])

WEBHOOK_PATH = "/webhooks/whatsapp"
#: Meta sends at most 3 MB per POST; anything larger is not from Meta.
MAX_BODY_BYTES = 3 * 1024 * 1024
#: Meta does not read it, but a proxy or another sender may.
RETRY_AFTER_SECONDS = "5"
UNAVAILABLE_MESSAGE = "the database is unreachable; nothing was stored, retry later"
NO_SECRET_MESSAGE = (
    "webhook signatures cannot be checked: set CONVOFLOW_WHATSAPP_APP_SECRET to your Meta "
    "app's secret (or CONVOFLOW_WHATSAPP_ALLOW_UNSIGNED=true for local testing only)"
)


@router.get(WEBHOOK_PATH, response_class=PlainTextResponse)
async def verify_webhook(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """The verification handshake: the bare challenge when the verify token matches."""
    expected = _runtime(request).settings.whatsapp_verify_token
    answer = verify_handshake(mode, token, challenge, expected)
    if answer is None:
        return PlainTextResponse("forbidden", status_code=403)
    return PlainTextResponse(answer)


@router.post(WEBHOOK_PATH)
async def receive_whatsapp_webhook(request: Request) -> Response:
    """Check, store and acknowledge one webhook delivery; process it in the background."""
    runtime = _runtime(request)
    started = runtime.clock.monotonic()
    status = 500  # unless an answer is returned
    try:
        response = await _receive(request, runtime)
        status = response.status_code
        return response
    finally:
        observe_webhook(runtime.clock.monotonic() - started, status)


class WebhookFastPath:
    """Answers ``POST /webhooks/whatsapp`` ahead of the framework's routing.

    Every inbound message arrives here, so the request skips FastAPI's route matching,
    exception middleware and request handling (about a third of the server's CPU per
    webhook) and goes straight to :func:`receive_whatsapp_webhook`, the same function the
    route runs. Everything else, including the GET handshake, goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a webhook delivery; pass anything else on."""
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH:
            response = await receive_whatsapp_webhook(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _receive(request: Request, runtime: Runtime) -> Response:
    settings = runtime.settings
    secret = settings.whatsapp_app_secret
    if not secret and not settings.whatsapp_allow_unsigned:
        return JSONResponse({"detail": NO_SECRET_MESSAGE}, status_code=503)
    raw = await _read_body(request)
    if raw is None:
        return JSONResponse({"detail": "body larger than 3 MB"}, status_code=413)
    if secret and not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret):
        return JSONResponse({"detail": f"missing or wrong {SIGNATURE_HEADER}"}, status_code=401)
    try:
        payload = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return JSONResponse({"detail": "body is not valid JSON"}, status_code=400)
    try:
        received = await receive_webhook(
            runtime.db_sessions,
            _directory(request),
            parse_webhook(payload),
            now=runtime.clock.now(),
            writer=runtime.inbox_writer,
        )
    except Exception as exc:
        if not runtime.outages.absorb(exc, what="storing a webhook", service=DATABASE):
            raise
        # Not acknowledged, so Meta delivers it again; a commit that did happen meanwhile
        # makes the redelivery a duplicate, which is ignored (wamid unique).
        return JSONResponse(
            {"detail": UNAVAILABLE_MESSAGE},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    runtime.outages.recovered(DATABASE)
    if received.messages:
        observe_batch("inbox", received.messages)
    await _kick_processing(runtime, received)
    return JSONResponse({"status": "ok"})


async def _kick_processing(runtime: Runtime, received: ReceivedWebhook) -> None:
    """Queue the processing of what was stored; a lost kick only delays it (the sweeper)."""
    if not received.customers or received.kicked:
        return
    try:
        await runtime.dispatcher.customers_received(received.customers)
    except Exception as exc:  # stored and committed: the sweeper processes it if the kick was lost
        if not runtime.outages.absorb(exc, what="queueing processing", service=REDIS):
            logger.exception("could not queue processing; the sweeper will pick it up")
        return
    runtime.outages.recovered(REDIS)


async def _read_body(request: Request) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> NoReturn:
    raise InvalidArgument(f"{name} is not JSON")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _directory(request: Request) -> PhoneNumberDirectory:
    # The runtime's own: the phone-number API makes it forget a number it changed.
    return _runtime(request).phone_numbers
