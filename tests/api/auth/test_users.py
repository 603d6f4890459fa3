"""``/api/users``: admins list and create users and set passwords; others only themselves."""

from __future__ import annotations

from tests.api.auth.conftest import PASSWORDS, Site, error_of


async def test_an_admin_sees_every_user_and_others_only_themselves(site: Site) -> None:
    admin = await site.signed_in("admin")
    alice = await site.signed_in("alice")

    everyone = await admin.send("GET", "/api/users")
    herself = await alice.send("GET", "/api/users")
    by_key = await site.as_key("bob", "GET", "/api/users")

    assert everyone.status_code == 200
    assert [user["name"] for user in everyone.json()["items"]] == ["admin", "alice", "bob"]
    assert everyone.json()["total"] == 3
    first = everyone.json()["items"][0]
    assert set(first) == {"id", "name", "is_admin", "is_active", "has_password", "created_at"}
    assert first["is_admin"] is True and first["has_password"] is True
    assert [user["name"] for user in herself.json()["items"]] == ["alice"]
    assert herself.json()["total"] == 1
    assert [user["name"] for user in by_key.json()["items"]] == ["bob"]


async def test_only_an_admin_creates_users_who_then_sign_in(site: Site) -> None:
    admin = await site.signed_in("admin")
    alice = await site.signed_in("alice")
    carol = {"name": "carol", "password": "carol-password", "is_admin": False}

    refused = await alice.send("POST", "/api/users", json=carol)
    created = await admin.send("POST", "/api/users", json=carol)
    duplicate = await admin.send("POST", "/api/users", json=carol)
    short = await admin.send(
        "POST", "/api/users", json={**carol, "name": "dave", "password": "1234567"}
    )
    bad_name = await admin.send("POST", "/api/users", json={**carol, "name": "no spaces"})

    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "carol" and created.json()["has_password"] is True
    assert duplicate.status_code == 409
    assert short.status_code == 422
    assert error_of(short)["details"][0]["field"] == "password"
    assert "at least 8" in error_of(short)["details"][0]["message"]
    assert bad_name.status_code == 422 and error_of(bad_name)["details"][0]["field"] == "name"
    browser = await site.browser()
    assert (await browser.sign_in("alice", "wrong")).status_code == 401
    signed_in = await browser.client.post(
        "/api/auth/login", json={"username": "carol", "password": "carol-password"}
    )
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["is_admin"] is False
    by_key = await site.as_key("bob", "POST", "/api/users", json={**carol, "name": "erin"})
    assert by_key.status_code == 403


async def test_changing_your_own_password_needs_the_current_one(site: Site) -> None:
    alice = await site.signed_in("alice")
    elsewhere = await site.signed_in("alice")
    user_id = (await alice.send("GET", "/api/auth/me")).json()["id"]
    path = f"/api/users/{user_id}/password"

    missing = await alice.send("PUT", path, json={"password": "new-password-1"})
    wrong = await alice.send(
        "PUT", path, json={"password": "new-password-1", "current_password": "nope-nope"}
    )
    short = await alice.send(
        "PUT", path, json={"password": "short", "current_password": PASSWORDS["alice"]}
    )
    changed = await alice.send(
        "PUT", path, json={"password": "new-password-1", "current_password": PASSWORDS["alice"]}
    )

    for refused in (missing, wrong):
        assert refused.status_code == 422
        assert error_of(refused)["details"][0]["field"] == "current_password"
    assert short.status_code == 422 and error_of(short)["details"][0]["field"] == "password"
    assert changed.status_code == 204
    assert (await alice.send("GET", "/api/auth/me")).status_code == 200  # this browser stays
    assert (await elsewhere.send("GET", "/api/auth/me")).status_code == 401  # others end
    browser = await site.browser()
    assert (await browser.sign_in("alice")).status_code == 401  # the old password
    assert (await browser.sign_in("alice", "new-password-1")).status_code == 200


async def test_wrong_current_passwords_are_throttled_like_sign_ins(site: Site) -> None:
    alice = await site.signed_in("alice")
    user_id = (await alice.send("GET", "/api/auth/me")).json()["id"]
    guess = {"password": "new-password-1", "current_password": "guess-guess"}
    for _ in range(5):
        response = await alice.send("PUT", f"/api/users/{user_id}/password", json=guess)
        assert response.status_code == 422

    throttled = await alice.send("PUT", f"/api/users/{user_id}/password", json=guess)

    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "900"
    assert (await (await site.browser()).sign_in("alice")).status_code == 429


async def test_an_admin_sets_another_users_password_and_signs_them_out(site: Site) -> None:
    admin = await site.signed_in("admin")
    bob = await site.signed_in("bob")
    alice = await site.signed_in("alice")
    bob_id = (await bob.send("GET", "/api/auth/me")).json()["id"]
    path = f"/api/users/{bob_id}/password"

    by_alice = await alice.send("PUT", path, json={"password": "alice-chose-this"})
    by_admin = await admin.send("PUT", path, json={"password": "admin-chose-this"})

    assert by_alice.status_code == 404
    assert by_admin.status_code == 204
    assert (await bob.send("GET", "/api/auth/me")).status_code == 401
    browser = await site.browser()
    assert (await browser.sign_in("bob", "admin-chose-this")).status_code == 200
    unknown = await admin.send(
        "PUT", "/api/users/01J000000000000000000000/password", json={"password": "whatever-1"}
    )
    assert unknown.status_code == 404
