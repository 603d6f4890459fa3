"""The admin REST API: every ``/api/...`` router and the one error shape, installed at once."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from convoflow.api import (
    analytics,
    auth,
    builder,
    campaigns,
    conversations,
    flows,
    inbox,
    keys,
    llm,
    permissions,
    phone_numbers,
    simulator,
    template_specs,
    templates,
    users,
    workflows,
)
from convoflow.api.deps import CurrentUser
from convoflow.api.errors import error_responses, install_error_handlers
from convoflow.api.schemas.common import Me

me_router = APIRouter(prefix="/api", tags=["account"], responses=error_responses(401))


@me_router.get("/me", response_model=Me)
async def who_am_i(caller: CurrentUser) -> Me:
    """The platform user your API key belongs to."""
    return Me(id=caller.id, username=caller.username)


ROUTERS = (
    me_router,
    auth.router,
    users.router,
    keys.router,
    templates.router,
    builder.step_types_router,
    builder.router,
    simulator.router,
    template_specs.router,
    flows.router,
    workflows.router,
    permissions.router,
    conversations.router,
    inbox.router,
    analytics.router,
    phone_numbers.router,
    campaigns.router,
    campaigns.templates_router,
    llm.router,
)


def install_admin_api(app: FastAPI) -> None:
    """Include the admin routers and register the error handlers on ``app``."""
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
