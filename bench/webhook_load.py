"""Webhook load: inbound messages per second fully answered, against a floor server.

Starts a stand-in Graph API, ``convoflow serve`` and ``convoflow worker`` processes on
PostgreSQL and Redis, then drives signed webhooks at a chosen rate from many simulated
customers (each going round main_menu → new_order → confirmed, one reply per message) and
measures:

* sustained inbound messages per second fully answered (every reply accepted by the
  stand-in Graph API), from the first webhook to the last reply;
* webhook latency p50/p99 (until the 200);
* end-to-end latency p50/p99 (webhook sent → its reply arrives at the Graph API).

The same run measures a *floor* server doing only the unavoidable I/O per message (check
the signature, one INSERT, one outbound POST, then 200) with the same load, and prints our
throughput as a ratio of the floor's.

    python bench/webhook_load.py --rate 300 --seconds 10 --customers 500 --workers 2

Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379); it uses the
database ``convoflow_bench`` (recreated) and Redis database 12 (flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from webhook_standins import APP_SECRET, DATABASE, PG, PHONE_NUMBER_ID, TOKEN

REDIS_URL = "redis://127.0.0.1:6379/12"
HERE = Path(__file__).resolve()


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        child = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def uvicorn_args(factory: str, port: int, workers: int = 1) -> list[str]:
    """Run one of :mod:`webhook_standins`' apps."""
    options = f"--factory --port {port} --workers {workers} --log-level warning --no-access-log"
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        *options.split(),
        "--app-dir",
        str(HERE.parent),
    ]


async def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def prepare_database() -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
        ],
        check=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"],
        check=True,
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            DATABASE,
            "-qc",
            "CREATE TABLE bench_floor_inbox (id bigserial PRIMARY KEY, wamid text UNIQUE, "
            "body jsonb, received_at timestamptz DEFAULT now())",
        ],
        check=True,
    )
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=True, capture_output=True)


# --- the load ----------------------------------------------------------------------------

STEPS: list[Callable[[str], dict[str, Any]]] = [
    lambda c: {"type": "text", "text": {"body": "hi"}},
    lambda c: {
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "new_order", "title": "New order"},
        },
    },
    lambda c: {
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": "latte", "title": "Latte"}},
    },
    lambda c: {"type": "text", "text": {"body": "2"}},
    lambda c: {
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "confirm", "title": "Confirm"},
        },
    },
]


def signed_webhook(customer_key: str, step: int, serial: str) -> tuple[bytes, dict[str, str]]:
    message = {
        "from": customer_key,
        "id": f"wamid.LOAD.{serial}",
        "timestamp": str(int(time.time())),
        **STEPS[step % len(STEPS)](customer_key),
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Load"}, "wa_id": customer_key}],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


@dataclass
class Result:
    sent: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    webhook_ms: list[float] = field(default_factory=list)
    errors: int = 0


async def drive(
    url: str, graph: str, rate: float, seconds: float, customers: int
) -> dict[str, Any]:
    """Send ``rate * seconds`` webhooks, open loop; wait for every reply; summarise."""
    result = Result()
    names = [f"4477{n:08d}" for n in range(customers)]
    previous: dict[str, asyncio.Task[None]] = {}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await client.delete(graph + "/_stats")

        async def one(
            customer_key: str, step: int, serial: str, before: asyncio.Task[None] | None
        ) -> None:
            if before is not None:
                await before  # a customer's messages stay in order
            raw, headers = signed_webhook(customer_key, step, serial)
            started = time.time()
            try:
                response = await client.post("/webhooks/whatsapp", content=raw, headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            result.webhook_ms.append((time.time() - started) * 1000)
            if ok:
                result.sent["+" + customer_key].append(started)
            else:
                result.errors += 1

        total = int(rate * seconds)
        run = time.time_ns()
        began = time.time()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for serial in range(total):
            await asyncio.sleep(max(0.0, start + serial / rate - loop.time()))
            customer_key = names[serial % customers]
            step = serial // customers
            previous[customer_key] = asyncio.create_task(
                one(customer_key, step, f"{run}.{serial}", previous.get(customer_key))
            )
        await asyncio.gather(*previous.values())
        expected = sum(len(times) for times in result.sent.values())
        arrivals = await wait_for_replies(graph, expected, deadline=time.time() + 120)
    latencies = [
        (arrived - sent) * 1000
        for customer_key, sends in result.sent.items()
        for sent, arrived in zip(sends, arrivals.get(customer_key, []), strict=False)
    ]
    answered = len(latencies)
    last = max((times[-1] for times in arrivals.values() if times), default=began)
    return {
        "offered": total,
        "answered": answered,
        "errors": result.errors,
        "per_second": answered / max(last - began, 1e-9),
        "webhook": percentiles(result.webhook_ms),
        "end_to_end": percentiles(latencies),
    }


async def wait_for_replies(graph: str, expected: int, deadline: float) -> dict[str, list[float]]:
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            arrivals: dict[str, list[float]] = (await client.get(graph + "/_stats")).json()
            if sum(map(len, arrivals.values())) >= expected or time.time() > deadline:
                return arrivals
            await asyncio.sleep(0.25)


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


# --- main --------------------------------------------------------------------------------


async def measure(options: argparse.Namespace, logs: Path) -> None:
    graph_port, ours_port, floor_port = free_port(), free_port(), free_port()
    graph = f"http://127.0.0.1:{graph_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=f"postgresql+asyncpg://{PG}/{DATABASE}",
        CONVOFLOW_REDIS_URL=REDIS_URL,
        CONVOFLOW_WHATSAPP_API_BASE=graph,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=TOKEN,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_APP_SECRET=APP_SECRET,
        CONVOFLOW_WHATSAPP_MAX_MPS="1000",
        CONVOFLOW_LOG_LEVEL="WARNING",
        BENCH_GRAPH_URL=graph,
    )
    convoflow = [sys.executable, "-m", "convoflow.cli"]
    with ExitStack() as stack:
        stack.enter_context(
            process(
                uvicorn_args("webhook_standins:graph_standin", graph_port), env, logs / "graph.log"
            )
        )
        await wait_for(graph + "/_stats")
        seed = [*convoflow, "seed"]
        await asyncio.to_thread(subprocess.run, seed, env=env, check=True, capture_output=True)
        stack.enter_context(
            process(
                [*convoflow, "serve", "--port", str(ours_port), "--workers", str(options.servers)],
                env,
                logs / "serve.log",
            )
        )
        for number in range(options.workers):
            stack.enter_context(process([*convoflow, "worker"], env, logs / f"worker-{number}.log"))
        stack.enter_context(
            process(
                uvicorn_args("webhook_standins:floor_server", floor_port, options.servers),
                env,
                logs / "floor.log",
            )
        )
        await wait_for(f"http://127.0.0.1:{ours_port}/healthz")
        await wait_for(f"http://127.0.0.1:{floor_port}/healthz")
        runs = {}
        for name, port in (("floor", floor_port), ("convoflow", ours_port)):
            await drive(f"http://127.0.0.1:{port}", graph, options.rate, 1.0, options.customers)
            runs[name] = await drive(
                f"http://127.0.0.1:{port}", graph, options.rate, options.seconds, options.customers
            )
    report(options, runs)


def report(options: argparse.Namespace, runs: dict[str, dict[str, Any]]) -> None:
    print(
        f"webhook load on {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"offered {options.rate:g} msg/s for {options.seconds:g} s from {options.customers} "
        f"customers; {options.servers} server process(es), {options.workers} worker(s)"
    )
    for name, run in runs.items():
        print(
            f"  {name:>9}: {run['answered']}/{run['offered']} answered ({run['errors']} errors), "
            f"{run['per_second']:.0f} msg/s; webhook p50 {run['webhook'][0]:.1f} ms "
            f"p99 {run['webhook'][1]:.1f} ms; end-to-end p50 {run['end_to_end'][0]:.1f} ms "
            f"p99 {run['end_to_end'][1]:.1f} ms"
        )
    ratio = runs["convoflow"]["per_second"] / max(runs["floor"]["per_second"], 1e-9)
    print(f"  convoflow throughput = {ratio:.2f} x floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="webhooks per second offered")
    parser.add_argument("--seconds", type=float, default=10, help="how long to offer them")
    parser.add_argument("--customers", type=int, default=500, help="simulated customers")
    parser.add_argument("--servers", type=int, default=1, help="convoflow serve processes")
    parser.add_argument("--workers", type=int, default=2, help="convoflow worker processes")
    parser.add_argument("--logs", type=Path, default=Path("bench-logs"), help="process logs")
    options = parser.parse_args()
    options.logs.mkdir(exist_ok=True)
    prepare_database()
    asyncio.run(measure(options, options.logs))


if __name__ == "__main__":
    main()
