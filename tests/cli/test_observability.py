"""Real processes: the worker's metrics port, JSON logs of serve and worker, a wrong format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from tests.e2e.processes import free_port, running, wait_until_serving
from tests.support.databases import REDIS_URL
from tests.support.webhooks import eventually

pytestmark = pytest.mark.slow


def env_with(**settings: str) -> dict[str, str]:
    """This environment without any ``CONVOFLOW_*`` but the given settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update({f"CONVOFLOW_{name.upper()}": value for name, value in settings.items()})
    return env


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of ``output`` as JSON (each one must be an object with the usual keys)."""
    entries = []
    for line in output.splitlines():
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


def gauges(text: str) -> dict[str, float]:
    """Unlabelled samples of a metrics text, by name."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


async def test_the_worker_serves_its_metrics_on_its_port_and_logs_json(
    tmp_path: Path, redis_client: Redis
) -> None:
    port = free_port()
    env = env_with(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'convoflow.db'}",
        redis_url=REDIS_URL,
        log_format="json",
    )
    log = tmp_path / "worker.log"
    with running(["worker", "--metrics-port", str(port)], env, log) as worker:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            scraped: dict[str, float] = {}

            async def alive_in_metrics() -> bool:
                assert worker.popen.poll() is None, worker.output()
                try:
                    response = await http.get("/metrics")
                except httpx.TransportError:
                    return False
                scraped.update(gauges(response.text))
                return scraped.get("convoflow_workers_alive") == 1

            await eventually(alive_in_metrics, within=60, what="the worker's own heartbeat")
        assert scraped["convoflow_pending_inbound"] == 0
        assert scraped["convoflow_queued_outbound"] == 0
        assert scraped["convoflow_db_pool_capacity"] > 0
        worker.stop()
        assert worker.popen.returncode == 0, worker.output()

    entries = json_lines(log.read_text())
    messages = [entry["message"] for entry in entries]
    assert f"convoflow worker metrics on http://127.0.0.1:{port}/metrics" in messages
    assert any(message.startswith("convoflow worker on sqlite") for message in messages)


async def test_serve_logs_one_json_object_per_line_uvicorn_included(tmp_path: Path) -> None:
    port = free_port()
    env = env_with(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'convoflow.db'}",
        log_format="json",
        metrics="true",
    )
    log = tmp_path / "serve.log"
    base_url = f"http://127.0.0.1:{port}"
    with running(["serve", "--port", str(port)], env, log) as server:
        await wait_until_serving(base_url, server)
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            assert (await http.get("/metrics")).status_code == 200
        server.stop()

    entries = json_lines(log.read_text())
    loggers = {entry["logger"] for entry in entries}
    assert {"convoflow", "uvicorn.error", "uvicorn.access"} <= loggers
    [access] = [entry for entry in entries if entry.get("path") == "/metrics"]
    assert (access["method"], access["status"], access["level"]) == ("GET", 200, "INFO")
    assert any("Uvicorn running on" in entry["message"] for entry in entries)


def test_an_unknown_log_format_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", "serve"],
        env=env_with(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'convoflow.db'}", log_format="yaml"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "configuration error: CONVOFLOW_LOG_FORMAT: Input should be 'text' or 'json' (got 'yaml')"
    ]
