"""An app on a clean, seeded database with a fake clock, and browsers that sign in to it.

Users: ``admin`` (the default owner, an admin), ``alice`` and ``bob``; each has a password
(``PASSWORDS``) and an API key. Each browser is its own client with its own cookie jar and
client address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from convoflow.api.app import create_app
from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.services.access import setup, users
from convoflow.store.database import create_engine
from tests.conftest import make_settings
from tests.support.databases import truncate_all

PASSWORDS = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}
SESSION_COOKIE = "convoflow_session"


@dataclass
class Browser:
    """One browser: a client keeping its cookies, and the CSRF token of its sign-in."""

    client: httpx.AsyncClient
    csrf_token: str | None = None

    async def sign_in(self, user: str, password: str | None = None) -> httpx.Response:
        """Sign in (remembering the CSRF token); the answer is returned as it is."""
        response = await self.client.post(
            "/api/auth/login",
            json={"username": user, "password": PASSWORDS[user] if password is None else password},
        )
        if response.status_code == 200:
            self.csrf_token = response.json()["csrf_token"]
        return response

    @property
    def session_token(self) -> str | None:
        """The sign-in token the browser holds."""
        return self.client.cookies.get(SESSION_COOKIE)

    async def send(
        self, method: str, path: str, *, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """A request with the cookie, and the CSRF header unless ``csrf`` is False."""
        headers = dict(kwargs.pop("headers", {}))
        if csrf and self.csrf_token:
            headers["X-CSRF-Token"] = self.csrf_token
        return await self.client.request(method, path, headers=headers, **kwargs)


@dataclass
class Site:
    """The running app, its fake clock, API keys, and a way to open browsers."""

    runtime: Runtime
    clock: FakeClock
    app: Any
    stack: AsyncExitStack
    keys: dict[str, str] = field(default_factory=dict)

    async def browser(self, *, ip: str = "127.0.0.1", scheme: str = "http") -> Browser:
        """A new browser at client address ``ip``."""
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver")
        await self.stack.enter_async_context(client)
        return Browser(client)

    async def signed_in(self, user: str, *, ip: str = "127.0.0.1") -> Browser:
        """A browser signed in as ``user``."""
        browser = await self.browser(ip=ip)
        response = await browser.sign_in(user)
        assert response.status_code == 200, response.text
        return browser

    async def as_key(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with ``user``'s API key (no cookie)."""
        browser = await self.browser()
        headers = {"Authorization": f"Bearer {self.keys[user]}", **kwargs.pop("headers", {})}
        return await browser.client.request(method, path, headers=headers, **kwargs)


@asynccontextmanager
async def running_site(
    database_url: str, *, admin_password: bool = True, **settings: Any
) -> AsyncIterator[Site]:
    """The app on a clean database with the users; ``settings`` override the defaults."""
    await _clean(database_url)
    clock = FakeClock()
    app = create_app(make_settings(database_url, **settings), clock=clock)
    try:
        async with app.router.lifespan_context(app), AsyncExitStack() as stack:
            runtime: Runtime = app.state.runtime
            await setup.seed(runtime.db_sessions)
            site = Site(runtime=runtime, clock=clock, app=app, stack=stack)
            site.keys["admin"] = await setup.create_key(runtime.db_sessions, username="admin")
            if admin_password:
                await users.set_password(
                    runtime.db_sessions, username="admin", password=PASSWORDS["admin"]
                )
            for name in ("alice", "bob"):
                site.keys[name] = await setup.create_user_with_key(
                    runtime.db_sessions, username=name, password=PASSWORDS[name]
                )
            yield site
    finally:
        await _clean(database_url)


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    """The app with every user signed up, on SQLite and on PostgreSQL."""
    async with running_site(database_url) as running:
        yield running


async def _clean(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response (asserting the one shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The attributes of the session cookie set by ``response`` (names lower-cased)."""
    header = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith(f"{SESSION_COOKIE}=")
    )
    parts = [part.strip() for part in header.split(";")]
    attributes = {"": parts[0].split("=", 1)[1]}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes
