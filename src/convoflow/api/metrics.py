"""``GET /metrics``: this process's Prometheus metrics (only with ``CONVOFLOW_METRICS=true``).

The text is rendered on a thread: the database and Redis gauges are read on the event loop
while the thread waits (see :mod:`convoflow.metrics`).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from convoflow.metrics import CONTENT_TYPE, exposition

__all__ = ["METRICS_PATH", "router"]

METRICS_PATH = "/metrics"

router = APIRouter(tags=["health"])


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics() -> Response:
    """The registry in Prometheus' text format."""
    return Response(await asyncio.to_thread(exposition), media_type=CONTENT_TYPE)
