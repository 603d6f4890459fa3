"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from convoflow import __version__
from convoflow.jobs.heartbeat import HEARTBEAT_TTL_SECONDS
from convoflow.jobs.sender import NEVER_DELIVERED_CHANNELS
from convoflow.readiness import ServiceReport, probe_services
from convoflow.runtime import Runtime
from convoflow.store.backlog import backlog_ages

router = APIRouter(tags=["health"])

NO_WORKER = f"no worker has sent a heartbeat in the last {HEARTBEAT_TTL_SECONDS:g} s"


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """503 while the database does not answer (webhooks could not be stored), else 200.

    A Redis outage, or no worker alive, still answers 200, as ``degraded`` (``redis:
    down``, ``workers: none alive``): webhooks are still stored, and taking every server out
    of the load balancer would not bring a worker back. The body also reports
    ``workers_alive`` (live heartbeats; the server itself when it runs the jobs) and
    ``backlog_age_seconds``: how long the oldest unprocessed inbound message and the oldest
    due outbound message have waited (0 when none waits, null when unknown). Each service gets
    ``CONVOFLOW_READY_TIMEOUT_SECONDS`` to answer, so the probe itself never hangs.
    """
    runtime: Runtime = request.app.state.runtime
    within = runtime.settings.ready_timeout_seconds
    report = await probe_services(runtime.engine, runtime.settings.redis_url, within=within)
    workers, backlog = await asyncio.gather(
        _workers_alive(runtime, report, within), _backlog(runtime, report, within)
    )
    body = report.as_json()
    body["checks"]["workers"] = _workers_check(workers)
    if workers == 0:
        body["errors"]["workers"] = NO_WORKER
        if body["status"] == "ok":
            body["status"] = "degraded"
    body["workers_alive"] = workers
    body["backlog_age_seconds"] = backlog
    return JSONResponse(body, status_code=200 if report.ready else 503)


def _workers_check(workers: int | None) -> str:
    if workers is None:
        return "unknown"
    return "none alive" if workers == 0 else "alive"


async def _workers_alive(runtime: Runtime, report: ServiceReport, within: float) -> int | None:
    """Live heartbeats, or None when they cannot be read (Redis away)."""
    if report.redis is not None:
        return None
    try:
        async with asyncio.timeout(within):
            return await runtime.heartbeats.alive()
    except Exception:  # the probe reports what it can; Redis' state is in `checks`
        return None


async def _backlog(
    runtime: Runtime, report: ServiceReport, within: float
) -> dict[str, float] | None:
    """The backlog's ages, or None when the database cannot tell."""
    if not report.ready:
        return None
    try:
        async with asyncio.timeout(within), runtime.engine.connect() as connection:
            ages = await backlog_ages(
                connection, now=runtime.clock.now(), never_delivered=NEVER_DELIVERED_CHANNELS
            )
    except Exception:  # the database went away since the probe: nothing to report
        return None
    return ages.as_json()
