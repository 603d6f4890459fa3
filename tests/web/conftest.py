"""Browser tests: Debian's Chromium (found on PATH, never a downloaded browser) driven by
Playwright against a real ``convoflow serve``.

Skipped with the reason when Chromium or Playwright is missing; under ``CI=true`` they fail
instead, so CI never passes without running them. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import IN_CI
from tests.support.graph_stub import GraphStub
from tests.web.server import WebServer, WebUser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 800}


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI=true: the browser tests must run)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium on PATH."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One Chromium per test module: Playwright's sync API keeps an event loop running in
    this thread while it is open, which the asyncio tests of other modules must not meet."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def web_stub() -> Iterator[GraphStub]:
    """The stand-in Graph API of the web server."""
    with GraphStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def web(
    chromium_path: str, web_stub: GraphStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """``convoflow serve`` on a fresh SQLite database for the browser tests."""
    server = WebServer(tmp_path_factory.mktemp("web"), web_stub)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin(web: WebServer) -> WebUser:
    """``admin``: owns the server's own WhatsApp number, so webhooks reach its templates."""
    return web.user("admin")


@pytest.fixture
def page(web: WebServer, browser: Any) -> Iterator[Any]:
    """A fresh browser context and page at 1280×800; console errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT, base_url=web.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, errors


def screenshot(page: Any, name: str) -> None:
    """Save what the page shows now as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def sign_in(page: Any, web: WebServer, user: WebUser) -> None:
    """Sign in through the sign-in page (password when the server has it, else the key)."""
    page.goto("/")
    page.get_by_role("heading", name="Sign in to convoflow").wait_for()
    if user.password is not None:
        page.get_by_label("User name").fill(user.name)
        page.get_by_label("Password").fill(user.password)
    else:
        if page.get_by_label("API key").count() == 0:
            page.get_by_role("button", name="Use an API key instead").click()
        page.get_by_label("API key").fill(user.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("signed-in-user").filter(has_text=user.name).wait_for()
