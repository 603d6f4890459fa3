"""Real HTTP servers on 127.0.0.1 standing in for the outside systems of a workflow.

* :class:`KycStandIn`: a KYC provider that answers 503 a given number of times, then 200
  with a verdict; it records every call.
* :class:`EndActionReceiver`: the system an ``api_call`` end action posts to; it checks the
  ``X-Convoflow-Signature`` HMAC of the raw body and the ``Idempotency-Key``, and records
  each delivery (a repeated key is answered 200 and counted as a duplicate).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from convoflow.channels.whatsapp.signature import sign
from tests.support.stub_server import StubServer


@dataclass
class Received:
    """One request a stand-in got."""

    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw or b"null")


class _StandIn:
    """A threaded HTTP server; subclasses decide the answer in :meth:`answer`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    self.path,
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length),
                )
                with stand_in._lock:
                    stand_in.received.append(request)
                    status, body = stand_in.answer(request)
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = StubServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: Received) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self) -> _StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class KycStandIn(_StandIn):
    """Fails ``failures`` times with 503, then answers 200 ``{"status": "verified", ...}``."""

    def __init__(self, failures: int = 2) -> None:
        super().__init__()
        self.failures = failures

    def answer(self, request: Received) -> tuple[int, Any]:
        if len(self.received) <= self.failures:
            return 503, {"error": "try again"}
        sent = request.json if isinstance(request.json, dict) else {}
        return 200, {"status": "verified", "level": "gold", "amount": sent.get("amount")}


@dataclass
class Delivery:
    """One end action the receiver accepted."""

    idempotency_key: str
    body: Any
    duplicate: bool


class EndActionReceiver(_StandIn):
    """Checks the signature and the idempotency key; answers 401 to a bad signature."""

    def __init__(self, secret: str, *, fail_with: int | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.fail_with = fail_with
        self.deliveries: list[Delivery] = []
        self.rejected: list[str] = []

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.headers.get("x-convoflow-signature") != sign(request.raw, self.secret):
            self.rejected.append("signature")
            return 401, {"error": "bad signature"}
        key = request.headers.get("idempotency-key", "")
        body = request.json
        if not key or key != body.get("instance"):
            self.rejected.append("idempotency-key")
            return 400, {"error": "missing idempotency key"}
        if self.fail_with is not None:
            return self.fail_with, {"error": "receiver down"}
        seen = any(delivery.idempotency_key == key for delivery in self.deliveries)
        self.deliveries.append(Delivery(key, body, duplicate=seen))
        return 200, {"received": key, "duplicate": seen}
