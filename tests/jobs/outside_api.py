"""A stand-in outside API: a real HTTP server on 127.0.0.1 that records calls and answers
as scripted (``http`` steps and end actions call it)."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.stub_server import StubServer


@dataclass(frozen=True, slots=True)
class Call:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.raw)


@dataclass(frozen=True, slots=True)
class Answer:
    """A scripted answer."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


class OutsideApi:
    """Answers 200 ``{"status": "shipped"}`` unless told otherwise with :meth:`answer_next`."""

    def __init__(self) -> None:
        # Started with start(), or use the ``outside_api`` fixture.
        self.calls: list[Call] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = StubServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer_next(self, count: int, status: int, body: Any = None, **headers: str) -> None:
        """Answer the next ``count`` calls with ``status`` and ``body``."""
        with self._lock:
            answer = Answer(status, body, tuple(headers.items()))
            self._answers.extend([answer] * count)

    def calls_to(self, path: str) -> list[Call]:
        """The calls made to ``path``."""
        with self._lock:
            return [call for call in self.calls if call.path == path]

    def _answer(self, call: Call) -> Answer:
        with self._lock:
            self.calls.append(call)
            if self._answers:
                return self._answers.popleft()
        return Answer(200, {"status": "shipped"})


def _handler(api: OutsideApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            answer = api._answer(Call(self.command, self.path, headers, raw))
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers:
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler
