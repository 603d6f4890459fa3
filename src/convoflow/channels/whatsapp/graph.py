"""A small async client for the WhatsApp Cloud API: ``/messages`` and the template list.

The client sends through an injected transport (:mod:`.graph_http`): the runtime's
:class:`~convoflow.channels.whatsapp.graph_http.AiohttpTransport`, or a caller's
:class:`httpx.AsyncClient` (its timeouts, limits and transport are the caller's choice;
tests hand it an :class:`httpx.MockTransport` or point ``api_base`` at a real server on
127.0.0.1). It turns every failure into a
:class:`~convoflow.errors.GraphError`: :class:`~convoflow.errors.RetryableGraphError` for
429/5xx, throughput codes and transport errors, :class:`~convoflow.errors.PermanentGraphError`
for what a retry cannot fix. It does not retry or pace itself: the sender job does both.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx

from convoflow.channels.whatsapp.graph_http import (
    GraphTransport,
    HttpAnswer,
    HttpxTransport,
    TransportFailure,
    TransportTimeout,
)
from convoflow.errors import (
    InvalidArgument,
    PermanentGraphError,
    RetryableGraphError,
    classify_graph_error,
)

__all__ = ["DEFAULT_API_BASE", "DEFAULT_API_VERSION", "GraphClient"]

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"

#: Templates asked for per page, and the fields read of each.
TEMPLATE_PAGE_SIZE = 100
TEMPLATE_FIELDS = "id,name,language,status,category,components,quality_score,rejected_reason"
_ADDRESSING_KEYS = frozenset({"messaging_product", "recipient_type", "to", "recipient"})


class GraphClient:
    """Sends messages and read receipts for any business number.

    ``api_base`` is the scheme and host (``https://graph.facebook.com``), ``api_version``
    the path version (``v25.0``), ``access_token`` the system-user or business token sent as
    ``Authorization: Bearer``. Numbers of other owners carry their own token: pass it per
    call (``access_token=``) and it replaces the client's for that call.
    """

    def __init__(
        self,
        http: GraphTransport | httpx.AsyncClient,
        *,
        access_token: str,
        api_base: str = DEFAULT_API_BASE,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self._http: GraphTransport = (
            HttpxTransport(http) if isinstance(http, httpx.AsyncClient) else http
        )
        self._api_base = api_base.rstrip("/")
        self._api_version = api_version.strip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        # Every send and read mark is a POST to one of a few URLs: built once each.
        self._message_urls: dict[str, str] = {}

    def messages_url(self, phone_number_id: str) -> str:
        """The ``/messages`` endpoint of one business number."""
        if not phone_number_id:
            raise InvalidArgument("phone_number_id is required")
        number = quote(phone_number_id, safe="")
        return f"{self._api_base}/{self._api_version}/{number}/messages"

    def _messages_url(self, phone_number_id: str) -> str:
        url = self._message_urls.get(phone_number_id)
        if url is None:
            url = self._message_urls[phone_number_id] = self.messages_url(phone_number_id)
        return url

    async def aclose(self) -> None:
        """Release the transport's connections (a caller's httpx client stays open)."""
        await self._http.aclose()

    async def send_message(
        self,
        phone_number_id: str,
        *,
        to: str | None = None,
        recipient: str | None = None,
        body: Mapping[str, Any],
        reply_to: str | None = None,
        callback_data: str | None = None,
        access_token: str | None = None,
    ) -> str:
        """Send one message and return its wamid (``messages[0].id`` of the answer).

        Address the customer by phone (``to``, digits or ``+``-prefixed) or by BSUID
        (``recipient``); Meta uses ``to`` when both are given. ``body`` is the message
        object without addressing (an ``OutboundMessage.body``, built by
        :mod:`convoflow.engine.messages` within WhatsApp's limits); ``reply_to`` quotes an
        earlier wamid; ``callback_data`` comes back on the status webhooks; ``access_token``
        is the sending number's token (default: the client's).

        The answer means *accepted*, not delivered. A timeout may hide an accepted send, so
        a retry after :class:`~convoflow.errors.RetryableGraphError` can duplicate a message.
        """
        if not to and not recipient:
            raise InvalidArgument("send_message needs `to` (phone) or `recipient` (BSUID)")
        clashing = _ADDRESSING_KEYS.intersection(body)
        if clashing:
            raise InvalidArgument(f"body must not carry addressing keys: {sorted(clashing)}")
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if to:
            payload["to"] = to
        if recipient:
            payload["recipient"] = recipient
        payload.update(body)
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        if callback_data is not None:
            payload["biz_opaque_callback_data"] = callback_data

        response = await self._post(self._messages_url(phone_number_id), payload, access_token)
        wamid = _first_message_id(response.json_body)
        if wamid is None:
            # Accepted but unreadable: retrying could send the message twice.
            raise PermanentGraphError(
                "Graph API accepted the message but returned no messages[0].id",
                http_status=response.status_code,
            )
        return wamid

    async def mark_as_read(
        self,
        phone_number_id: str,
        wamid: str,
        *,
        typing_indicator: bool = False,
        access_token: str | None = None,
    ) -> None:
        """Mark an inbound message (and every earlier one) as read.

        ``typing_indicator`` also shows "typing…" for up to 25 s or until the next reply.
        """
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": wamid,
        }
        if typing_indicator:
            payload["typing_indicator"] = {"type": "text"}
        await self._post(self._messages_url(phone_number_id), payload, access_token)

    async def list_message_templates(
        self,
        waba_id: str,
        *,
        access_token: str | None = None,
        after: str | None = None,
        limit: int = TEMPLATE_PAGE_SIZE,
    ) -> dict[str, Any]:
        """One page of ``GET /{waba-id}/message_templates``: ``{"data": [...], "paging":
        {"cursors": {"after": ...}, "next": ...}}`` (``next`` is absent on the last page).
        Pass the previous page's ``cursors.after`` as ``after``."""
        if not waba_id:
            raise InvalidArgument("waba_id is required")
        url = f"{self._api_base}/{self._api_version}/{quote(waba_id, safe='')}/message_templates"
        params = {"fields": TEMPLATE_FIELDS, "limit": str(limit)}
        if after:
            params["after"] = after
        headers = self._headers
        if access_token is not None:
            headers = {"Authorization": f"Bearer {access_token}"}
        response = await _answer_of(self._http.get(url, params, headers))
        body = _decode(response)
        if not 200 <= response.status < 300:
            raise classify_graph_error(response.status, body, response.headers)
        if not isinstance(body, dict):
            raise RetryableGraphError("Graph API answered the template list without JSON")
        return body

    async def _post(
        self, url: str, payload: dict[str, Any], access_token: str | None = None
    ) -> _Answer:
        token = self._headers["Authorization"] if access_token is None else f"Bearer {access_token}"
        # The body encoded here, compact, with its headers: about a third of the CPU of
        # letting the client encode ``json=`` (this is on the path of every message).
        headers = {"Authorization": token, "Content-Type": "application/json"}
        body = json.dumps(
            payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
        response = await _answer_of(self._http.post(url, body, headers))
        answer = _Answer(response.status, _decode(response))
        if not 200 <= response.status < 300:
            raise classify_graph_error(response.status, answer.json_body, response.headers)
        return answer


class _Answer(NamedTuple):
    status_code: int
    json_body: Any


async def _answer_of(request: Awaitable[HttpAnswer]) -> HttpAnswer:
    try:
        return await request
    # The HTTP client's own exception is the cause: it says what happened on the wire.
    except TransportTimeout as exc:
        raise RetryableGraphError(f"Graph API timed out: {exc}") from exc.__cause__ or exc
    except TransportFailure as exc:
        raise RetryableGraphError(f"Graph API unreachable: {exc}") from exc.__cause__ or exc


def _decode(response: HttpAnswer) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:  # not JSON: a proxy's HTML error page, an empty body
        return None


def _first_message_id(json_body: Any) -> str | None:
    if not isinstance(json_body, dict):
        return None
    messages = json_body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    wamid = messages[0].get("id")
    return wamid if isinstance(wamid, str) and wamid else None
