"""Every response carries the security headers; only the API reference pages get a CSP
that lets Swagger UI and ReDoc load."""

from __future__ import annotations

import pytest

from convoflow.api.security_headers import CONTENT_SECURITY_POLICY
from tests.api.auth.conftest import Site

STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def test_the_policy_is_the_documented_one() -> None:
    assert CONTENT_SECURITY_POLICY == STRICT_POLICY


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/auth/setup", 200),
        ("GET", "/api/auth/me", 401),
        ("POST", "/api/auth/login", 422),
        ("GET", "/no/such/page", 404),
        ("GET", "/openapi.json", 200),
    ],
)
async def test_every_response_carries_the_security_headers(
    site: Site, method: str, path: str, status: int
) -> None:
    browser = await site.browser()

    response = await browser.client.request(method, path)

    assert response.status_code == status
    assert response.headers["content-security-policy"] == STRICT_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_a_signed_in_answer_carries_them_too(site: Site) -> None:
    browser = await site.signed_in("alice")

    response = await browser.send("POST", "/api/keys", json={"label": "x"})

    assert response.status_code == 201
    assert response.headers["content-security-policy"] == STRICT_POLICY
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_api_reference_pages_may_load_their_scripts(site: Site) -> None:
    browser = await site.browser()

    for path in ("/docs", "/redoc"):
        response = await browser.client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "https://cdn.jsdelivr.net" in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
