"""A stand-in OpenAI-compatible model server: a real HTTP server on 127.0.0.1.

It answers ``POST /v1/chat/completions`` with scripted answers, in order (a text, tool
calls, an error status, or a slow answer), and ``POST /v1/embeddings`` with deterministic
bag-of-words vectors; it records every request::

    with LlmStub() as llm:
        llm.answer(tool_call("set_fields", {"amount": 30000}), usage=(120, 15))
        llm.answer(text("What is it for?"))
        llm.fail(503)                     # one error answer
        llm.slow(5.0, text("late"))       # answers after 5 s
        gate = llm.held(text("later"))    # answers once gate.set() is called
        ...
        llm.requests[0].json["messages"]

With nothing scripted it answers the text :data:`DEFAULT_TEXT`. It runs in a background
thread; async tests wait with :meth:`LlmStub.wait_for_async`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.stub_server import StubServer

DEFAULT_TEXT = "OK."
EMBEDDING_SIZE = 32
_ids = itertools.count(1)


def text(content: str) -> dict[str, Any]:
    """An assistant message with text only."""
    return {"role": "assistant", "content": content}


def tool_call(
    name: str, arguments: Any, *more: tuple[str, Any], content: str | None = None
) -> dict[str, Any]:
    """An assistant message calling ``name`` (and more tools); ``arguments`` may be raw text."""
    calls = []
    for tool_name, tool_arguments in ((name, arguments), *more):
        raw = tool_arguments if isinstance(tool_arguments, str) else json.dumps(tool_arguments)
        calls.append(
            {
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": tool_name, "arguments": raw},
            }
        )
    return {"role": "assistant", "content": content, "tool_calls": calls}


def embedding_of(words_text: str) -> list[float]:
    """A deterministic vector: each word adds 1 to one of the dimensions (by its hash)."""
    vector = [0.0] * EMBEDDING_SIZE
    for word in re.findall(r"\w+", words_text.casefold()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % EMBEDDING_SIZE] += 1.0
    return vector


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """One request the stub received."""

    path: str
    headers: dict[str, str]
    json: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages") or [])

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.json.get("tools") or []]


@dataclass(slots=True)
class _Scripted:
    message: dict[str, Any] | None = None
    usage: tuple[int, int] = (10, 5)
    status: int = 200
    delay: float = 0.0
    gate: threading.Event | None = None


@dataclass(slots=True)
class LlmStub:
    """The server; use as a context manager (see the module docstring)."""

    requests: list[LlmRequest] = field(default_factory=list)
    _script: deque[_Scripted] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: StubServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give as ``CONVOFLOW_LLM_BASE_URL``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def answer(self, message: dict[str, Any], *, usage: tuple[int, int] = (10, 5)) -> None:
        """Answer the next chat completion with ``message`` and these (prompt, completion)
        token counts."""
        with self._lock:
            self._script.append(_Scripted(message, usage))

    def fail(self, status: int, times: int = 1, *, usage: tuple[int, int] | None = None) -> None:
        """Answer the next ``times`` chat completions with an error ``status``."""
        with self._lock:
            for _ in range(times):
                self._script.append(_Scripted(None, usage or (0, 0), status))

    def slow(self, seconds: float, message: dict[str, Any]) -> None:
        """Answer the next chat completion after ``seconds``."""
        with self._lock:
            self._script.append(_Scripted(message, (10, 5), 200, seconds))

    def held(self, message: dict[str, Any]) -> threading.Event:
        """Answer the next chat completion with ``message`` once the returned event is set
        (at most a minute later)."""
        gate = threading.Event()
        with self._lock:
            self._script.append(_Scripted(message, (10, 5), 200, 0.0, gate))
        return gate

    def chats(self) -> list[LlmRequest]:
        """The chat-completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def wait_for_async(self, count: int, *, within: float = 30.0) -> list[LlmRequest]:
        """Wait until ``count`` chat requests arrived (without blocking the event loop)."""
        deadline = time.monotonic() + within
        while len(self.chats()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.chats())} model calls, expected {count}")
            await asyncio.sleep(0.02)
        return self.chats()

    def _next(self) -> _Scripted:
        with self._lock:
            return self._script.popleft() if self._script else _Scripted(text(DEFAULT_TEXT))

    def __enter__(self) -> LlmStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with stub._lock:
                    stub.requests.append(LlmRequest(self.path, headers, body))
                if self.path.endswith("/embeddings"):
                    self._embeddings(body)
                elif self.path.endswith("/chat/completions"):
                    self._chat(body)
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def _embeddings(self, body: dict[str, Any]) -> None:
                inputs = body.get("input")
                texts = inputs if isinstance(inputs, list) else [inputs]
                data = [
                    {"object": "embedding", "index": i, "embedding": embedding_of(str(t))}
                    for i, t in enumerate(texts)
                ]
                tokens = sum(len(str(t).split()) for t in texts)
                usage = {"prompt_tokens": tokens, "total_tokens": tokens}
                self._send(
                    200,
                    {"object": "list", "data": data, "model": body.get("model"), "usage": usage},
                )

            def _chat(self, body: dict[str, Any]) -> None:
                scripted = stub._next()
                if scripted.delay:
                    time.sleep(scripted.delay)
                if scripted.gate is not None:
                    scripted.gate.wait(60.0)
                if scripted.status != 200:
                    self._send(scripted.status, {"error": {"message": "scripted failure"}})
                    return
                prompt, completion = scripted.usage
                message = scripted.message or text(DEFAULT_TEXT)
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{next(_ids)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    },
                )

            def _send(self, status: int, document: Any) -> None:
                raw = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._server = StubServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
