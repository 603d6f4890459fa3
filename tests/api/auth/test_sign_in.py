"""``/api/auth/login``, ``/logout`` and ``/me``: the cookie, sessions that end, throttling."""

from __future__ import annotations

from datetime import timedelta

from tests.api.auth.conftest import (
    PASSWORDS,
    SESSION_COOKIE,
    Site,
    cookie_attributes,
    error_of,
    running_site,
)


async def test_sign_in_answers_the_user_and_sets_a_strict_http_only_cookie(site: Site) -> None:
    browser = await site.browser()

    response = await browser.sign_in("alice")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"user", "csrf_token"}
    assert body["user"]["name"] == "alice" and body["user"]["is_admin"] is False
    assert body["user"]["csrf_token"] == body["csrf_token"] and len(body["csrf_token"]) >= 32
    cookie = cookie_attributes(response)
    assert len(cookie[""]) >= 32
    assert "httponly" in cookie and "secure" not in cookie  # plain http, no setting
    assert cookie["samesite"].lower() == "strict" and cookie["path"] == "/"
    assert cookie["max-age"] == str(7 * 86_400)
    me = await browser.send("GET", "/api/auth/me")
    assert me.status_code == 200
    assert me.json() == {**body["user"]}
    admin = await site.signed_in("admin")
    assert (await admin.send("GET", "/api/auth/me")).json()["is_admin"] is True


async def test_the_cookie_is_secure_over_https_or_when_the_setting_says_so(
    site: Site, database_url: str
) -> None:
    over_https = await (await site.browser(scheme="https")).sign_in("alice")
    assert "secure" in cookie_attributes(over_https)
    await site.stack.aclose()  # this site's browsers, before its database is cleaned

    async with running_site(database_url, secure_cookies=True) as strict_site:
        response = await (await strict_site.browser()).sign_in("bob")
        assert "secure" in cookie_attributes(response)


async def test_wrong_password_and_unknown_user_get_the_same_401(site: Site) -> None:
    browser = await site.browser()

    wrong = await browser.sign_in("alice", "not-her-password")
    unknown = await browser.client.post(
        "/api/auth/login", json={"username": "mallory", "password": "whatever-1"}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert error_of(wrong)["code"] == "unauthorized"
    assert error_of(wrong)["message"] == "wrong user name or password"
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert (await browser.send("GET", "/api/auth/me")).status_code == 401


async def test_a_user_without_a_password_cannot_sign_in(site: Site) -> None:
    from convoflow.services.access import setup

    await setup.create_user_with_key(site.runtime.db_sessions, username="robot")
    browser = await site.browser()

    for password in ("", "anything-at-all"):
        response = await browser.client.post(
            "/api/auth/login", json={"username": "robot", "password": password}
        )
        assert response.status_code == 401


async def test_me_answers_401_without_a_sign_in_and_no_csrf_token_for_a_key(site: Site) -> None:
    anonymous = await (await site.browser()).client.get("/api/auth/me")
    assert anonymous.status_code == 401
    assert error_of(anonymous)["code"] == "unauthorized"

    by_key = await site.as_key("bob", "GET", "/api/auth/me")
    assert by_key.status_code == 200
    assert by_key.json()["name"] == "bob" and by_key.json()["csrf_token"] is None


async def test_logout_deletes_the_session_and_clears_the_cookie(site: Site) -> None:
    browser = await site.signed_in("alice")
    token = browser.session_token
    assert token

    refused = await browser.send("POST", "/api/auth/logout", csrf=False)
    assert refused.status_code == 403 and error_of(refused)["code"] == "csrf_failed"
    assert (await browser.send("GET", "/api/auth/me")).status_code == 200

    response = await browser.send("POST", "/api/auth/logout")

    assert response.status_code == 204
    cleared = cookie_attributes(response)
    assert cleared["max-age"] == "0" and cleared[""] in ("", '""')
    assert browser.session_token is None
    # The old token is dead on the server, not only forgotten by the browser.
    replay = await site.browser()
    replay.client.cookies.set(SESSION_COOKIE, token)
    assert (await replay.send("GET", "/api/auth/me")).status_code == 401
    assert (await replay.send("GET", "/api/workflow-templates")).status_code == 401
    again = await browser.send("POST", "/api/auth/logout")
    assert again.status_code == 204  # nothing to end: still fine


async def test_signing_in_again_replaces_the_previous_session(site: Site) -> None:
    browser = await site.signed_in("alice")
    first = browser.session_token

    assert (await browser.sign_in("alice")).status_code == 200

    assert browser.session_token != first
    replay = await site.browser()
    replay.client.cookies.set(SESSION_COOKIE, first or "")
    assert (await replay.send("GET", "/api/auth/me")).status_code == 401


async def test_a_session_ends_after_12_idle_hours(site: Site) -> None:
    browser = await site.signed_in("alice")

    site.clock.advance(hours=11, minutes=59)
    assert (await browser.send("GET", "/api/auth/me")).status_code == 200
    site.clock.advance(hours=11, minutes=59)  # idle time counts from the last use
    assert (await browser.send("GET", "/api/auth/me")).status_code == 200
    site.clock.advance(hours=12)

    expired = await browser.send("GET", "/api/auth/me")
    assert expired.status_code == 401
    assert "expired" in error_of(expired)["message"]


async def test_a_session_ends_after_7_days_however_much_it_is_used(site: Site) -> None:
    browser = await site.signed_in("alice")
    started = site.clock.now()

    while site.clock.now() + timedelta(hours=11) < started + timedelta(days=7):
        site.clock.advance(hours=11)
        assert (await browser.send("GET", "/api/auth/me")).status_code == 200
    site.clock.set(started + timedelta(days=7))

    assert (await browser.send("GET", "/api/auth/me")).status_code == 401


async def test_five_failures_for_a_user_name_throttle_it_with_retry_after(site: Site) -> None:
    for attempt in range(5):
        browser = await site.browser(ip=f"10.0.0.{attempt + 1}")  # any address
        assert (await browser.sign_in("alice", "wrong-password")).status_code == 401
        site.clock.advance(60)
    # The first failure leaves the 15-minute window 900 - 5 * 60 seconds from now.
    browser = await site.browser(ip="10.0.0.99")

    throttled = await browser.sign_in("ALICE", "wrong-password")  # case does not dodge it
    right_password = await browser.sign_in("alice")

    for response in (throttled, right_password):
        assert response.status_code == 429, response.text
        assert response.headers["retry-after"] == "600"
        assert error_of(response)["code"] == "too_many_requests"
        assert "600 seconds" in error_of(response)["message"]
    assert (await browser.sign_in("bob")).status_code == 200  # other users are not affected

    site.clock.advance(599)
    still = await browser.sign_in("alice")
    assert still.status_code == 429 and still.headers["retry-after"] == "1"
    site.clock.advance(1)
    assert (await browser.sign_in("alice")).status_code == 200
    # A success forgets the user's failures: one more mistake is not throttled.
    assert (await browser.sign_in("alice", "wrong-password")).status_code == 401


async def test_failures_from_one_address_throttle_that_address(database_url: str) -> None:
    async with running_site(database_url, sign_in_max_failures_per_ip=3) as site:
        attacker = await site.browser(ip="192.0.2.7")
        for name in ("alice", "bob", "carol"):
            response = await attacker.client.post(
                "/api/auth/login", json={"username": name, "password": "guess-guess"}
            )
            assert response.status_code == 401

        throttled = await attacker.sign_in("admin", PASSWORDS["admin"])

        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "900"
        elsewhere = await site.browser(ip="198.51.100.1")
        assert (await elsewhere.sign_in("admin")).status_code == 200
