"""The OpenAPI description: complete, secured, and true (a bounded schemathesis run)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from convoflow.api.app import create_app
from convoflow.runtime import Runtime
from convoflow.services.access import setup
from tests.api.admin.conftest import AdminApi
from tests.conftest import make_settings
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub

#: Examples per operation and mode; ~50 operations × 2 modes keeps the run under a minute.
#: Raise it with CONVOFLOW_FUZZ_EXAMPLES for a longer hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("CONVOFLOW_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


#: Operations anyone may call: signing in, signing out, and the first-run setup.
PUBLIC_OPERATIONS = {
    "POST /api/auth/login",
    "POST /api/auth/logout",
    "GET /api/auth/setup",
    "POST /api/auth/setup",
}


async def test_every_api_operation_is_described_with_a_model_and_bearer_or_cookie_auth(
    api: AdminApi,
) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["SignInCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "convoflow_session",
        "description": schemes["SignInCookie"]["description"],
    }
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 40
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary") and operation.get("description"), where
        if where in PUBLIC_OPERATIONS:
            assert "security" not in operation, where
        else:
            assert operation["security"] == [{"HTTPBearer": []}, {"SignInCookie": []}], where
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, where
        if success == ["204"]:  # No Content: nothing to describe
            assert "content" not in operation["responses"]["204"], where
        else:
            content = operation["responses"][success[0]]["content"]
            # A JSON model, or the one event stream (GET /api/events) as text.
            media = content.get("application/json") or content.get("text/event-stream")
            assert media and media["schema"], where
        error_codes = [code for code in operation["responses"] if code[0] in "45"]
        assert "401" in error_codes or where in PUBLIC_OPERATIONS, where
        for code in error_codes:
            error = operation["responses"][code]["content"]["application/json"]["schema"]
            if code != "422" or error.get("$ref") != "#/components/schemas/HTTPValidationError":
                assert error == {"$ref": "#/components/schemas/ErrorResponse"}, where
    docs = await api.client.get("/docs")
    assert docs.status_code == 200


async def _prepare(database_url: str) -> str:
    """A clean, seeded database; returns an API key of the seeded owner."""
    runtime = Runtime.build(make_settings(database_url))
    try:
        await truncate_all(runtime.engine)
        await setup.seed(runtime.db_sessions)
        key = await setup.create_user_with_key(runtime.db_sessions, username="fuzzer")
    finally:
        await runtime.close()
    return key


async def _clean(database_url: str) -> None:
    runtime = Runtime.build(make_settings(database_url))
    try:
        await truncate_all(runtime.engine)
    finally:
        await runtime.close()


@pytest.mark.postgres
def test_schemathesis_finds_no_server_error_and_no_response_off_schema(
    pg_url: str, graph_stub: GraphStub
) -> None:
    key = asyncio.run(_prepare(pg_url))
    settings = make_settings(
        pg_url, whatsapp_api_base=graph_stub.url, whatsapp_phone_number_id="15550000000"
    )
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            # The event stream never ends, so no response of it can be read to the end.
            if not operation.path.startswith("/api/") or operation.path == STREAM:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, headers, failures)
    finally:
        asyncio.run(_clean(pg_url))
    assert not failures, "\n\n".join(failures)


STREAM = "/api/events"


def _fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str], failures: list[str]
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # An operation that takes no input at all (sign-out) has nothing to make invalid.
        if mode is not GenerationMode.NEGATIVE:
            raise
    except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures
        failures.append(f"{operation.label} ({mode}): {exc}")
