"""A stand-in Graph API: a real HTTP server on 127.0.0.1 that records what it is sent.

It speaks the ``POST /{version}/{phone_number_id}/messages`` protocol of the WhatsApp Cloud
API well enough for the client, the sender and the benchmarks: it checks the Bearer token
(one for every number, or a number's own after :meth:`GraphStub.accept_token`),
answers sends with a fresh wamid and read receipts with ``{"success": true}``, serves a
WABA's message templates page by page (:meth:`GraphStub.set_templates`), and can be
scripted to fail::

    with GraphStub() as stub:
        client = GraphClient(http, api_base=stub.url, access_token=stub.access_token)
        stub.fail_next(2, status=429, code=130429, retry_after=1)
        stub.fail_for("15550001111", code=131047)
        ...
        stub.on_accept(lambda request: ...)  # e.g. a status webhook that overtakes the answer
        stub.wait_for(3, timeout=5)
        assert [m.to for m in stub.sent] == [...]

It runs in a background thread, so sync tests call it directly and async tests use
:meth:`GraphStub.wait_for_async` (``wait_for`` would block the event loop doing the sends).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.support.stub_server import StubServer

__all__ = ["DEFAULT_TOKEN", "GraphStub", "RecordedRequest", "ScriptedFailure"]

DEFAULT_TOKEN = "test-access-token"
_MESSAGES_PATH = re.compile(r"/(?P<version>v\d+\.\d+)/(?P<phone_number_id>[^/]+)/messages")
_TEMPLATES_PATH = re.compile(r"/(?P<version>v\d+\.\d+)/(?P<waba_id>[^/]+)/message_templates")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the stub received: where, with which headers (lower-cased) and body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    api_version: str | None = None
    phone_number_id: str | None = None
    status: int = 200
    wamid: str | None = None  # set when the stub accepted a message

    @property
    def to(self) -> str | None:
        """The ``to`` (phone) or else ``recipient`` (BSUID) of a message request."""
        if not isinstance(self.json, dict):
            return None
        value = self.json.get("to") or self.json.get("recipient")
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str | None:
        """The ``text.body`` of a text message, else None."""
        content = self.json.get("text") if isinstance(self.json, dict) else None
        body = content.get("body") if isinstance(content, dict) else None
        return body if isinstance(body, str) else None


@dataclass(frozen=True, slots=True)
class ScriptedFailure:
    """An error answer: HTTP ``status``, Graph ``code`` and an optional ``Retry-After``."""

    status: int
    code: int
    retry_after: float | None = None


@dataclass(slots=True)
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: list[RecordedRequest] = field(default_factory=list)
    reads: list[RecordedRequest] = field(default_factory=list)
    next_failures: deque[ScriptedFailure] = field(default_factory=deque)
    read_failures: deque[ScriptedFailure] = field(default_factory=deque)
    recipient_failures: dict[str, ScriptedFailure] = field(default_factory=dict)
    accept_hook: Callable[[RecordedRequest], None] | None = None
    template_failures: deque[ScriptedFailure] = field(default_factory=deque)


class GraphStub:
    """The stand-in Graph API server; start with :meth:`start` or ``with GraphStub() as stub``."""

    def __init__(self, access_token: str = DEFAULT_TOKEN) -> None:
        self.access_token = access_token
        self._number_tokens: dict[str, str] = {}
        self._templates: dict[str, list[dict[str, Any]]] = {}
        self.template_page_size = 2
        self._state = _State()
        self._changed = threading.Condition()
        self._wamid_numbers = itertools.count(1)
        self._run_id = uuid.uuid4().hex[:8]
        self._server: StubServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> GraphStub:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = StubServer(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="graph-stub", kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GraphStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to use as the client's ``api_base``."""
        if self._server is None:
            raise RuntimeError("GraphStub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # scripting

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        code: int = 130429,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``count`` message sends with this error (reads are not affected)."""
        with self._changed:
            failure = ScriptedFailure(status, code, retry_after)
            self._state.next_failures.extend([failure] * count)

    def fail_next_reads(self, count: int = 1, *, status: int = 500, code: int = 1) -> None:
        """Answer the next ``count`` mark-as-read requests with this error."""
        with self._changed:
            self._state.read_failures.extend([ScriptedFailure(status, code)] * count)

    def on_accept(self, hook: Callable[[RecordedRequest], None] | None) -> None:
        """Call ``hook`` for each accepted message before answering it (None: stop).

        It runs in the server thread while the client waits for the answer: what Meta does
        when its status webhook for a message overtakes the answer to the send.
        """
        with self._changed:
            self._state.accept_hook = hook

    def fail_for(self, to: str, *, code: int = 131047, status: int = 400) -> None:
        """Answer every send to ``to`` (phone or BSUID) with this error, until :meth:`reset`."""
        with self._changed:
            self._state.recipient_failures[to] = ScriptedFailure(status, code)

    def set_templates(self, waba_id: str, templates: list[dict[str, Any]]) -> None:
        """Serve ``templates`` (Graph objects) from ``GET /{waba_id}/message_templates``,
        :attr:`template_page_size` per page, with cursor paging as Meta does."""
        with self._changed:
            self._templates[waba_id] = [dict(template) for template in templates]

    def fail_next_template_pages(
        self, count: int = 1, *, status: int = 400, code: int = 100
    ) -> None:
        """Answer the next ``count`` template-list requests with this error."""
        with self._changed:
            self._state.template_failures.extend([ScriptedFailure(status, code)] * count)

    def accept_token(self, phone_number_id: str, token: str) -> None:
        """Sends from ``phone_number_id`` need ``token`` (and no longer the default one)."""
        with self._changed:
            self._number_tokens[phone_number_id] = token

    def reset(self) -> None:
        """Forget recorded requests, scripted failures and the accept hook."""
        with self._changed:
            self._state = _State()
            self._changed.notify_all()

    # inspection (each returns a snapshot)

    @property
    def sent(self) -> list[RecordedRequest]:
        """Messages the stub accepted (answered with a wamid), in arrival order."""
        with self._changed:
            return list(self._state.sent)

    @property
    def reads(self) -> list[RecordedRequest]:
        """Mark-as-read requests (``{"status": "read"}`` bodies) the stub accepted."""
        with self._changed:
            return list(self._state.reads)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, including refused ones."""
        with self._changed:
            return list(self._state.requests)

    def sent_to(self, to: str) -> list[RecordedRequest]:
        """Accepted messages addressed to ``to`` (phone or BSUID)."""
        return [message for message in self.sent if message.to == to]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` messages were accepted; TimeoutError otherwise."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._state.sent) >= count, timeout)
            if not arrived:
                raise TimeoutError(
                    f"GraphStub: waited {timeout}s for {count} messages, "
                    f"got {len(self._state.sent)}"
                )
            return list(self._state.sent)

    async def wait_for_async(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for; the wait runs in a thread
    ) -> list[RecordedRequest]:
        """:meth:`wait_for` for async tests: waits without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    # called from the server threads

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        body = _json_or_none(raw)
        match = _MESSAGES_PATH.fullmatch(path.split("?", 1)[0])
        record = RecordedRequest(
            method=method,
            path=path,
            headers=headers,
            json=body,
            api_version=match["version"] if match else None,
            phone_number_id=match["phone_number_id"] if match else None,
        )
        with self._changed:
            reply = self._decide(record, method, match is not None)
            record = dataclasses.replace(record, status=reply.status, wamid=reply.wamid)
            self._state.requests.append(record)
            if reply.wamid is not None:
                self._state.sent.append(record)
            elif reply.is_read:
                self._state.reads.append(record)
            self._changed.notify_all()
            hook = self._state.accept_hook if reply.wamid is not None else None
        if hook is not None:
            hook(record)
        return reply

    def _template_page(self, record: RecordedRequest) -> _Reply:
        """One page of a WABA's templates (``after`` is the index of the next one)."""
        path, _, query = record.path.partition("?")
        match = _TEMPLATES_PATH.fullmatch(path)
        assert match is not None
        if record.headers.get("authorization") != f"Bearer {self.access_token}":
            return _error(401, 190, "Invalid OAuth access token")
        if self._state.template_failures:
            failure = self._state.template_failures.popleft()
            return _error(failure.status, failure.code, "Scripted failure")
        params = dict(parse_qsl(query))
        start = int(params.get("after") or 0)
        size = min(int(params.get("limit") or 25), self.template_page_size)
        templates = self._templates.get(match["waba_id"], [])
        page = templates[start : start + size]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(templates):
                body["paging"]["next"] = f"{self.url}{path}?after={start + len(page)}"
        return _Reply(200, body)

    def _decide(self, record: RecordedRequest, method: str, path_ok: bool) -> _Reply:
        if method == "GET" and _TEMPLATES_PATH.fullmatch(record.path.split("?", 1)[0]):
            return self._template_page(record)
        if method != "POST" or not path_ok:
            return _error(404, 100, "Unknown path components")
        expected = self._number_tokens.get(record.phone_number_id or "", self.access_token)
        if record.headers.get("authorization") != f"Bearer {expected}":
            return _error(401, 190, "Invalid OAuth access token")
        body = record.json
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _error(400, 100, "messaging_product must be whatsapp")
        if body.get("status") == "read":
            if not isinstance(body.get("message_id"), str):
                return _error(400, 100, "message_id is required")
            if self._state.read_failures:
                failure = self._state.read_failures.popleft()
                return _error(failure.status, failure.code, "Scripted failure")
            return _Reply(200, {"success": True}, is_read=True)
        to = record.to
        if to is None or not isinstance(body.get("type"), str):
            return _error(400, 100, "to/recipient and type are required")
        failure = self._state.recipient_failures.get(to)
        if failure is None and self._state.next_failures:
            failure = self._state.next_failures.popleft()
        if failure is not None:
            return _error(failure.status, failure.code, "Scripted failure", failure.retry_after)
        wamid = f"wamid.STUB.{self._run_id}.{next(self._wamid_numbers):06d}"
        contact_key = "wa_id" if body.get("to") else "user_id"
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, contact_key: to}],
            "messages": [{"id": wamid}],
        }
        return _Reply(200, answer, wamid=wamid)


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: Any
    wamid: str | None = None
    is_read: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: int, message: str, retry_after: float | None = None) -> _Reply:
    body = {
        "error": {
            "message": f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "GraphStub",
        }
    }
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return _Reply(status, body, headers=headers)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _handler_for(stub: GraphStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Without this, Nagle's algorithm and delayed ACKs stall each answer by ~40 ms.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive, as the Graph API does
        timeout = 30  # an idle keep-alive connection must not pin a thread forever

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            reply = stub._handle(self.command, self.path, headers, raw)
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
