"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from convoflow import __version__
from convoflow.api import health
from convoflow.runtime import Runtime
from convoflow.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the runtime (database engine etc.) lives for the app's lifespan."""
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(resolved)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="convoflow",
        version=__version__,
        description="Self-hosted WhatsApp conversation-workflow engine.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    return app
