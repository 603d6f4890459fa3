"""First run: the one-time setup token sets the admin's password and signs in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from convoflow.services.access.first_run import issue_setup_token
from tests.api.auth.conftest import Site, cookie_attributes, error_of, running_site


@pytest.fixture
async def fresh_site(database_url: str) -> AsyncIterator[Site]:
    """A site whose admin has no password yet."""
    async with running_site(database_url, admin_password=False) as running:
        yield running


async def issue(site: Site) -> str:
    """A setup token, as `convoflow serve` issues one at start-up."""
    token = await issue_setup_token(
        site.runtime.db_sessions, owner_name="admin", now=site.clock.now()
    )
    assert token is not None
    return token


async def test_the_setup_token_sets_the_admins_password_and_signs_in(fresh_site: Site) -> None:
    browser = await fresh_site.browser()
    assert (await browser.client.get("/api/auth/setup")).json() == {"needed": True}
    token = await issue(fresh_site)

    response = await browser.client.post(
        "/api/auth/setup", json={"token": token, "password": "first-admin-pass"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["name"] == "admin" and body["user"]["is_admin"] is True
    assert "httponly" in cookie_attributes(response)
    browser.csrf_token = body["csrf_token"]
    assert (await browser.send("GET", "/api/auth/me")).json() == body["user"]
    assert (await browser.client.get("/api/auth/setup")).json() == {"needed": False}
    other = await fresh_site.browser()
    assert (await other.sign_in("admin", "first-admin-pass")).status_code == 200
    # The admin owns the built-in templates.
    builtins = await browser.send("GET", "/api/workflow-templates", params={"limit": 200})
    admin_id = body["user"]["id"]
    assert {item["owner_id"] for item in builtins.json()["items"]} == {admin_id}


async def test_a_setup_token_works_once(fresh_site: Site) -> None:
    earlier, token = await issue(fresh_site), await issue(fresh_site)
    browser = await fresh_site.browser()
    body = {"token": token, "password": "first-admin-pass"}
    assert (await browser.client.post("/api/auth/setup", json=body)).status_code == 200

    again = await browser.client.post("/api/auth/setup", json={**body, "password": "taken-over!"})
    other_token = await browser.client.post(
        "/api/auth/setup", json={"token": earlier, "password": "taken-over!"}
    )

    assert again.status_code == 409
    assert error_of(again)["code"] == "conflict"
    assert "used already" in error_of(again)["message"]
    assert other_token.status_code == 409
    assert "setup is done" in error_of(other_token)["message"]
    assert (await browser.sign_in("admin", "taken-over!")).status_code == 401
    assert (
        await issue_setup_token(
            fresh_site.runtime.db_sessions, owner_name="admin", now=fresh_site.clock.now()
        )
        is None
    )


async def test_a_wrong_token_or_a_short_password_changes_nothing(fresh_site: Site) -> None:
    token = await issue(fresh_site)
    browser = await fresh_site.browser()

    wrong = await browser.client.post(
        "/api/auth/setup", json={"token": "not-the-token", "password": "first-admin-pass"}
    )
    short = await browser.client.post("/api/auth/setup", json={"token": token, "password": "short"})

    assert wrong.status_code == 403
    assert error_of(wrong)["code"] == "forbidden"
    assert "unknown setup link" in error_of(wrong)["message"]
    assert short.status_code == 422
    assert error_of(short)["details"] == [
        {"step": "", "field": "password", "message": "must be at least 8 characters"}
    ]
    assert (await browser.client.get("/api/auth/setup")).json() == {"needed": True}
    # The token is still good after both.
    done = await browser.client.post(
        "/api/auth/setup", json={"token": token, "password": "first-admin-pass"}
    )
    assert done.status_code == 200


async def test_no_setup_while_the_admin_has_a_password(site: Site) -> None:
    browser = await site.browser()

    assert (await browser.client.get("/api/auth/setup")).json() == {"needed": False}
    assert (
        await issue_setup_token(site.runtime.db_sessions, owner_name="admin", now=site.clock.now())
        is None
    )
    refused = await browser.client.post(
        "/api/auth/setup", json={"token": "anything", "password": "first-admin-pass"}
    )
    assert refused.status_code == 409
