"""``convoflow serve`` prints a one-time setup link while ``admin`` has no password."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import free_port, running, wait_until_serving

pytestmark = pytest.mark.slow

SETUP_LINK = re.compile(r"^http://127\.0\.0\.1:(\d+)/setup\?token=(\S+)$", re.MULTILINE)


def sqlite_env(database: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        CONVOFLOW_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


async def start_and_read(env: dict[str, str], log: Path) -> tuple[str | None, str, int]:
    """Start serve, wait until it answers, stop it; the setup token it printed (if any),
    its output and its port."""
    port = free_port()
    with running(["serve", "--port", str(port)], env, log) as process:
        await wait_until_serving(f"http://127.0.0.1:{port}", process)
        output = process.output()
    found = [match for match in SETUP_LINK.finditer(output) if match.group(1) == str(port)]
    assert len(found) <= 1, output
    return (found[0].group(2) if found else None), output, port


async def setup_with(env: dict[str, str], log: Path, token: str) -> tuple[int, str]:
    """Start serve and post the setup form with ``token``; status and message."""
    port = free_port()
    with running(["serve", "--port", str(port)], env, log) as process:
        base = f"http://127.0.0.1:{port}"
        await wait_until_serving(base, process)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post(
                "/api/auth/setup", json={"token": token, "password": "first-run-password"}
            )
            if response.status_code == 200:
                me = await client.get("/api/auth/me")  # the cookie signs the client in
                assert me.json()["name"] == "admin" and me.json()["is_admin"], me.text
    body = response.json()
    return response.status_code, body.get("error", {}).get("message", "")


async def test_serve_prints_a_setup_link_until_the_admin_has_a_password(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path / "first.db")

    first, output, port = await start_and_read(env, tmp_path / "serve-1.log")
    assert first is not None, output
    assert "first run: set the password of admin" in output
    second, output, _ = await start_and_read(env, tmp_path / "serve-2.log")
    assert second is not None and second != first, output

    # Any link printed is valid until one is used; then every link is spent.
    assert await setup_with(env, tmp_path / "serve-3.log", first) == (200, "")
    status, message = await setup_with(env, tmp_path / "serve-4.log", second)
    assert status == 409 and "setup is done" in message, message

    after, output, port = await start_and_read(env, tmp_path / "serve-5.log")
    assert after is None, output
    assert f"convoflow on http://127.0.0.1:{port}" in output
    assert "/setup?token=" not in output
