"""A real ``convoflow serve`` on SQLite for the browser tests, with users to sign in as.

The server talks to the stand-in Graph API and runs its jobs in process (no Redis). Users
sign in with a password when the server has password sign-in, else with an API key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.processes import Process, free_port
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN

PASSWORD = "correct horse battery staple"


@dataclass
class WebUser:
    """Someone who signs in: a name, an API key (for API checks) and a password if set."""

    name: str
    key: str
    password: str | None

    def headers(self) -> dict[str, str]:
        """Bearer headers for API calls made by the test itself."""
        return {"Authorization": f"Bearer {self.key}"}


def server_env(database_url: str, stub: GraphStub) -> dict[str, str]:
    """The server's environment: SQLite, no Redis, the stand-in Graph API."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=database_url,
        CONVOFLOW_WHATSAPP_API_BASE=stub.url,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=stub.access_token,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_APP_SECRET=APP_SECRET,
        CONVOFLOW_WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        CONVOFLOW_WHATSAPP_MAX_MPS="1000",
        CONVOFLOW_LOG_LEVEL="WARNING",
    )
    return env


def cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a ``convoflow`` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_line(output: str) -> str:
    """The last non-empty line (where the CLI prints a new key)."""
    return [line for line in output.splitlines() if line.strip()][-1].strip()


class WebServer:
    """The server process and what the tests need to know about it."""

    def __init__(self, workdir: Path, stub: GraphStub) -> None:
        self.stub = stub
        self.database_url = f"sqlite+aiosqlite:///{workdir / 'web.db'}"
        self.env = server_env(self.database_url, stub)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "serve.log"
        self.process: Process | None = None
        self.password_sign_in = False

    def start(self) -> None:
        """Start serving and wait until it answers."""
        self.process = Process(["serve", "--port", str(self.port)], self.env, self.log)
        self._wait_until_serving()
        probe = httpx.post(f"{self.url}/api/auth/login", json={"username": "", "password": ""})
        self.password_sign_in = probe.status_code != 404

    def _wait_until_serving(self) -> None:
        # Synchronous: Playwright's sync API keeps an event loop running in this thread.
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.popen.poll() is None, self.process.output()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.url} never answered:\n{self.process.output()}")

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            self.process.stop()

    def user(self, name: str) -> WebUser:
        """A user (created unless it exists, as ``admin`` does), with a key and a password."""
        if name != "admin":
            created = cli(
                ["users", "create", name, "--password"], self.env, f"{PASSWORD}\n{PASSWORD}\n"
            )
            if created.returncode != 0:
                created = cli(["users", "create", name], self.env)
            assert created.returncode == 0, created.stderr + created.stdout
        keyed = cli(["keys", "create", "--user", name, "--label", "browser tests"], self.env)
        assert keyed.returncode == 0, keyed.stderr + keyed.stdout
        password = None
        if self.password_sign_in:
            changed = cli(["users", "set-password", name], self.env, f"{PASSWORD}\n{PASSWORD}\n")
            password = PASSWORD if changed.returncode == 0 else None
        return WebUser(name=name, key=last_line(keyed.stdout), password=password)

    def api(self, user: WebUser) -> httpx.Client:
        """An API client acting as ``user``."""
        return httpx.Client(base_url=self.url, headers=user.headers(), timeout=30)
