"""Real ``convoflow serve`` and ``convoflow worker`` processes for the crash and scale tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

from tests.support.databases import REDIS_URL
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN

#: Redis database of the process tests; other tests flush database 15 whenever they like.
PROCESS_REDIS_URL = urlunparse(urlparse(REDIS_URL)._replace(path="/13"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_env(database_url: str, stub: GraphStub) -> dict[str, str]:
    """The environment of a production-like process: PostgreSQL, Redis, the stub Graph API."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=database_url,
        CONVOFLOW_REDIS_URL=PROCESS_REDIS_URL,
        CONVOFLOW_WHATSAPP_API_BASE=stub.url,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=stub.access_token,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_APP_SECRET=APP_SECRET,
        CONVOFLOW_WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        CONVOFLOW_WHATSAPP_MAX_MPS="1000",
        CONVOFLOW_LOG_LEVEL="WARNING",
    )
    return env


class Process:
    """One ``convoflow`` command running in the background, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._output = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "convoflow.cli", *args],
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.popen.kill()
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._output.close()

    def output(self) -> str:
        """What it printed so far (the end of it)."""
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[Process]:
    """Start a command; stop it when the block ends."""
    process = Process(args, env, log)
    try:
        yield process
    finally:
        process.stop()


def run_command(args: list[str], env: dict[str, str]) -> None:
    """Run a command to the end; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout


async def wait_until_serving(base_url: str, process: Process) -> None:
    """Poll /healthz until the server answers (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while loop.time() < deadline:
            assert process.popen.poll() is None, process.output()
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base_url} never answered:\n{process.output()}")
