"""The servers :mod:`webhook_load` measures against, as raw ASGI apps run by uvicorn.

* :func:`graph_standin`: the stand-in Graph API; answers every send with a wamid and records
  when each recipient's messages arrived (``GET /_stats``; ``DELETE /_stats`` forgets).
* :func:`floor_server`: the floor, doing only the unavoidable I/O per webhook: check the
  signature, one INSERT, one outbound POST, then 200.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx

APP_SECRET = "bench-app-secret"
TOKEN = "bench-token"
PHONE_NUMBER_ID = "106540352242922"
DATABASE = "convoflow_bench"
PG = "postgres@127.0.0.1:5432"


def graph_standin() -> Callable[..., Any]:
    """Answers every send with a wamid; GET /_stats gives arrival times per recipient."""
    arrivals: dict[str, list[float]] = defaultdict(list)
    numbers = itertools.count(1)

    async def app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            answer = json.dumps(arrivals).encode()
        elif scope["method"] == "DELETE":
            arrivals.clear()
            answer = b"{}"
        else:
            request = json.loads(body)
            recipient = request.get("to") or request.get("recipient")
            if recipient:  # a read mark names no recipient: not a reply
                arrivals[recipient].append(time.time())
            answer = json.dumps({"messages": [{"id": f"wamid.BENCH.{next(numbers)}"}]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def floor_server() -> Callable[..., Any]:
    """The unavoidable I/O per webhook: signature, one INSERT, one outbound POST, 200."""
    import asyncpg

    state: dict[str, Any] = {}
    graph_url = os.environ["BENCH_GRAPH_URL"] + f"/v25.0/{PHONE_NUMBER_ID}/messages"

    async def app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "lifespan":
            await receive()
            database = os.environ.get("BENCH_DATABASE", DATABASE)
            state["pool"] = await asyncpg.create_pool(f"postgresql://{PG}/{database}", max_size=20)
            state["http"] = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/healthz":
            await _respond(send, 200)
            return
        headers = dict(scope["headers"])
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), headers.get(b"x-hub-signature-256", b"")):
            await _respond(send, 401)
            return
        message = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
        await state["pool"].execute(
            "INSERT INTO bench_floor_inbox (wamid, body) VALUES ($1, $2)",
            message["id"],
            body.decode(),
        )
        reply = {
            "messaging_product": "whatsapp",
            "to": "+" + message["from"],
            "type": "text",
            "text": {"body": "hello"},
        }
        await state["http"].post(
            graph_url, json=reply, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        await _respond(send, 200)

    return app


async def _respond(send: Callable[..., Any], status: int) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})
