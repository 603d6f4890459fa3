"""Reading a Server-Sent Events stream in tests, and serving an app on a real port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.e2e.processes import free_port


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event of the stream."""

    kind: str
    data: dict[str, Any]


class SseReader:
    """Events of an open stream, parsed as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def live(self) -> None:
        """Wait for the comment that says the subscription is live."""
        async for line in self._lines:
            if line.startswith(": live"):
                return
        raise AssertionError("the stream ended before it was live")

    async def until(self, kind: str, within: float = 30.0, **match: Any) -> SseEvent:
        """The first event of ``kind`` whose data has every ``match`` item (bounded wait)."""
        async with asyncio.timeout(within):
            while True:
                event = await self._next()
                if event.kind == kind and all(event.data.get(k) == v for k, v in match.items()):
                    return event

    async def next_event(self, within: float = 30.0) -> SseEvent:
        """The next event, whatever it is (bounded wait)."""
        async with asyncio.timeout(within):
            return await self._next()

    async def _next(self) -> SseEvent:
        kind, data = "message", ""
        async for line in self._lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "" and data:
                return SseEvent(kind, json.loads(data))
        raise AssertionError("the stream ended")


@asynccontextmanager
async def events_of(base_url: str, headers: dict[str, str]) -> AsyncIterator[SseReader]:
    """``GET /api/events`` on a real server, live when the block starts."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0, read=60.0)) as client,
        client.stream("GET", "/api/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        await reader.live()
        yield reader


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (whose lifespan already runs) on a free port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task
