"""Every ``/api`` route takes the sign-in cookie like an API key; changes by cookie need
the CSRF header, changes by key do not; the cookie sees exactly what the key sees."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin.helpers import greeting
from tests.api.auth.conftest import Site, error_of

TEMPLATES = "/api/workflow-templates"


@pytest.mark.parametrize("sent", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
async def test_a_change_by_cookie_without_the_csrf_token_is_refused(
    site: Site, sent: str | None
) -> None:
    browser = await site.signed_in("alice")
    headers = {} if sent is None else {"X-CSRF-Token": sent}

    for method, path, body in (
        ("POST", "/api/keys", {"label": "from another site"}),
        ("POST", TEMPLATES, greeting()),
        ("DELETE", "/api/keys/01J000000000000000000000", None),
    ):
        response = await browser.send(method, path, csrf=False, headers=headers, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert error_of(response)["code"] == "csrf_failed"
    listed = await browser.send("GET", TEMPLATES, csrf=False, params={"limit": 200})
    assert listed.status_code == 200  # reading needs no token
    assert "greet" not in {item["template_name"] for item in listed.json()["items"]}


async def test_another_sessions_csrf_token_does_not_count(site: Site) -> None:
    alice = await site.signed_in("alice")
    other = await site.signed_in("alice")

    response = await alice.send(
        "POST", "/api/keys", csrf=False, headers={"X-CSRF-Token": other.csrf_token or ""}
    )

    assert response.status_code == 403


async def test_a_signed_in_user_creates_lists_and_revokes_their_api_keys(site: Site) -> None:
    browser = await site.signed_in("alice")

    created = await browser.send("POST", "/api/keys", json={"label": "laptop"})
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    by_key = await site.browser()
    bearer = {"Authorization": f"Bearer {key['key']}"}
    assert (await by_key.client.get("/api/auth/me", headers=bearer)).json()["name"] == "alice"

    listed = await browser.send("GET", "/api/keys")
    assert {item["label"] for item in listed.json()["items"]} == {"laptop", "created with the user"}

    revoked = await browser.send("DELETE", f"/api/keys/{key['id']}")
    assert revoked.status_code == 204
    assert (await by_key.client.get("/api/auth/me", headers=bearer)).status_code == 401
    bobs = await site.as_key("bob", "GET", "/api/keys")
    bob_key_id = bobs.json()["items"][0]["id"]
    assert (await browser.send("DELETE", f"/api/keys/{bob_key_id}")).status_code == 404


async def test_a_change_by_api_key_needs_no_csrf_token(site: Site) -> None:
    created = await site.as_key("alice", "POST", "/api/keys", json={"label": "ci"})
    assert created.status_code == 201

    # A key wins over a cookie sent along (and then no CSRF token is needed either).
    browser = await site.signed_in("bob")
    response = await browser.send(
        "POST",
        TEMPLATES,
        csrf=False,
        headers={"Authorization": f"Bearer {site.keys['alice']}"},
        json=greeting("by_key"),
    )
    assert response.status_code == 201, response.text
    assert (
        response.json()["owner_id"] == (await site.as_key("alice", "GET", "/api/me")).json()["id"]
    )


async def test_by_cookie_a_user_cannot_see_another_users_private_template(site: Site) -> None:
    alice = await site.signed_in("alice")
    bob = await site.signed_in("bob")
    created = await alice.send("POST", TEMPLATES, json=greeting("alice_secret"))
    assert created.status_code == 201, created.text
    template_id = created.json()["id"]
    assert created.json()["is_public"] is False

    assert (await alice.send("GET", f"{TEMPLATES}/{template_id}")).status_code == 200
    hidden = await bob.send("GET", f"{TEMPLATES}/{template_id}")
    assert hidden.status_code == 404
    assert error_of(hidden)["code"] == "not_found"
    listed = await bob.send("GET", TEMPLATES, params={"limit": 200})
    assert template_id not in {item["id"] for item in listed.json()["items"]}
    changed = await bob.send("DELETE", f"{TEMPLATES}/{template_id}")
    assert changed.status_code == 404
    admin = await site.signed_in("admin")  # an admin sees no one's private templates either
    assert (await admin.send("GET", f"{TEMPLATES}/{template_id}")).status_code == 404
