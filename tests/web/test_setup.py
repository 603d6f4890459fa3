"""The first run in the browser: the setup link `convoflow serve` prints sets admin's
password and signs admin in, with no command-line step."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.graph_stub import GraphStub
from tests.web.conftest import VIEWPORT, screenshot
from tests.web.server import PASSWORD, WebServer
from tests.web.whatsapp import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.web]


@pytest.fixture
def fresh_server(
    chromium_path: str, web_stub: GraphStub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """A server on a database of its own, where admin has no password yet."""
    server = WebServer(tmp_path_factory.mktemp("first-run"), web_stub)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_first_run_setup_link_sets_the_admin_password(
    browser: Any, fresh_server: WebServer
) -> None:
    found: list[str] = []

    def printed() -> bool:
        found[:] = re.findall(r"/setup\?token=(\S+)", fresh_server.log.read_text())
        return bool(found)

    wait_until(printed, "the setup link in the server's output")
    context = browser.new_context(viewport=VIEWPORT, base_url=fresh_server.url)
    page = context.new_page()
    page.goto(f"/setup?token={found[-1]}")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    screenshot(page, "setup")
    page.get_by_role("button", name="Set the password").click()
    page.get_by_test_id("signed-in-user").filter(has_text="admin").wait_for()
    context.close()
