"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from convoflow import __version__, metrics
from convoflow.api import health, web, webhook
from convoflow.api import metrics as api_metrics
from convoflow.api.admin import install_admin_api
from convoflow.api.security_headers import SecurityHeaders
from convoflow.clock import Clock
from convoflow.heap import freeze_startup_heap
from convoflow.jobs.process_state import state_reader
from convoflow.jobs.worker import BackgroundJobs
from convoflow.runtime import Runtime
from convoflow.settings import Settings, get_settings

logger = logging.getLogger("convoflow")


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, freeze_heap: bool = False
) -> FastAPI:
    """Build the app; the runtime (database engine etc.) lives for the app's lifespan.

    ``clock`` is the runtime's source of time (the system clock unless a test hands in one).
    ``freeze_heap``: once started, leave the start-up heap out of garbage collection
    (:mod:`convoflow.heap`; for the served process, not for tests).
    """
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(resolved, clock=clock)
        app.state.runtime = runtime
        warn_about_webhook_settings(resolved)
        background = BackgroundJobs.for_server(runtime)
        await background.start()
        if freeze_heap:
            freeze_startup_heap()
        # Scrapes read the backlog, the pool and the heartbeats of this runtime.
        read_state = (
            state_reader(
                engine=runtime.engine,
                db_sessions=runtime.db_sessions,
                heartbeats=runtime.heartbeats,
                clock=runtime.clock,
            )
            if resolved.metrics
            else None
        )
        if read_state is not None:
            metrics.watch_state(read_state)
        try:
            yield
        finally:
            if read_state is not None:
                metrics.unwatch_state(read_state)
            await background.stop()
            await runtime.close()

    app = FastAPI(
        title="convoflow",
        version=__version__,
        description="Self-hosted WhatsApp conversation-workflow engine.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(webhook.router)
    if resolved.metrics:
        app.include_router(api_metrics.router)
    install_admin_api(app)
    app.include_router(web.router)
    app.mount(web.STATIC_PREFIX, web.static_files(), name="static")
    # Added first, so it runs inside SecurityHeaders: webhooks get the same headers.
    app.add_middleware(webhook.WebhookFastPath)
    app.add_middleware(SecurityHeaders)
    return app


def create_served_app() -> FastAPI:
    """The app ``convoflow serve`` runs (uvicorn's factory): :func:`create_app` with the
    start-up heap frozen."""
    return create_app(freeze_heap=True)


def warn_about_webhook_settings(settings: Settings) -> None:
    """Say loudly at start-up when webhooks are unchecked or cannot be accepted."""
    if settings.whatsapp_app_secret:
        return
    if settings.whatsapp_allow_unsigned:
        logger.warning(
            "CONVOFLOW_WHATSAPP_ALLOW_UNSIGNED=true: WhatsApp webhook signatures are NOT "
            "checked; anyone who can reach /webhooks/whatsapp can impersonate customers. "
            "For local testing only."
        )
    else:
        logger.warning(
            "CONVOFLOW_WHATSAPP_APP_SECRET is not set: POST /webhooks/whatsapp answers 503"
        )
