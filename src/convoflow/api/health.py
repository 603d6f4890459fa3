"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from convoflow import __version__
from convoflow.readiness import probe_services
from convoflow.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """503 while the database does not answer (webhooks could not be stored), else 200.

    A Redis outage still answers 200, as ``degraded`` with ``redis: down``. Each service
    gets ``CONVOFLOW_READY_TIMEOUT_SECONDS`` to answer, so the probe itself never hangs.
    """
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    report = await probe_services(
        runtime.engine, settings.redis_url, within=settings.ready_timeout_seconds
    )
    return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)
