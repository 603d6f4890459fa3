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
throughput as a ratio of the floor's. The floor answering the offered rate shows that the
load generator and the Graph stand-in are not the bottleneck; the generator's own lag (how
late it sent against its schedule) is printed too.

For each offered rate of ``--rates`` it prints: accepted (200) and fully answered messages
per second, webhook p50/p99, end-to-end p50/p99, the CPU seconds our processes spent per
message (a figure that holds on a busy machine), and the ratio to the floor.

    python bench/webhook_load.py --rates 150,300 --seconds 60  # 1 serve + 1 worker
    python bench/webhook_load.py --sqlite --rates 200        # one `convoflow serve`, SQLite
    python bench/webhook_load.py --rates 300 --preload       # 1M conversations, 5M messages
    python bench/webhook_load.py --rates 300 --overload 1500 # then 1,500/s: 503s, drains

Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379); it uses the
database ``--database`` (default ``convoflow_bench``, recreated) and Redis database
``--redis-db`` (default 12, flushed).
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


def psql(database: str, sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qc", sql], check=True
    )


def prepare_database(options: argparse.Namespace) -> None:
    database = options.database
    psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {database}")
    psql(
        database,
        "CREATE TABLE bench_floor_inbox (id bigserial PRIMARY KEY, wamid text UNIQUE, "
        "body jsonb, received_at timestamptz DEFAULT now())",
    )
    flush = ["redis-cli", "-n", str(options.redis_db), "flushdb"]
    subprocess.run(flush, check=True, capture_output=True)
    if options.sqlite:
        Path(options.sqlite_path).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(options.sqlite_path + suffix).unlink(missing_ok=True)


PRELOAD_SQL = """
INSERT INTO contacts (id, owner_id, customer_key, wa_id, name, first_seen_at, last_seen_at,
                      last_inbound_at, opted_out)
SELECT 'P' || lpad(n::text, 25, '0'), :owner, '4499' || lpad(n::text, 9, '0'),
       '4499' || lpad(n::text, 9, '0'), 'Old', now() - interval '30 days',
       now() - interval '30 days', now() - interval '30 days', false
FROM generate_series(1, :conversations) AS n;
INSERT INTO conversation_state (id, owner_id, phone_number, conversation_flow, current_step,
                                context, template_id, last_interaction, expires_at,
                                created_at, updated_at)
SELECT 'p' || n, :owner, '4499' || lpad(n::text, 9, '0'), 'main_menu', 'menu',
       '{"template_name": "main_menu", "current_step": "menu", "variables": {}}'::jsonb,
       :template, now(), now() + interval '20 days', now(), now()
FROM generate_series(1, :conversations) AS n;
INSERT INTO whatsapp_messages (owner_id, phone_number_id, customer, direction, wamid, type,
                               payload, status, attempts, created_at, updated_at)
SELECT :owner, :number, '4499' || lpad((n % :conversations + 1)::text, 9, '0'),
       CASE WHEN n % 2 = 0 THEN 'in' ELSE 'out' END, 'wamid.OLD.' || n, 'text',
       '{"type": "text", "text": {"body": "old"}}'::jsonb,
       CASE WHEN n % 2 = 0 THEN 'processed' ELSE 'read' END, 0,
       now() - interval '10 days', now() - interval '10 days'
FROM generate_series(1, :messages) AS n;
ANALYZE;
"""


def preload(options: argparse.Namespace) -> None:
    """Fill the database with old conversations and messages, set-based (a minute or two)."""
    owner = "(SELECT id FROM users WHERE username = 'admin')"
    template = (
        "(SELECT id FROM workflow_templates WHERE template_name = 'main_menu' "
        "AND is_latest ORDER BY created_at LIMIT 1)"
    )
    sql = (
        PRELOAD_SQL.replace(":owner", owner)
        .replace(":template", template)
        .replace(":number", f"'{PHONE_NUMBER_ID}'")
        .replace(":conversations", str(options.preload_conversations))
        .replace(":messages", str(options.preload_messages))
    )
    started = time.monotonic()
    if options.sqlite:
        preload_sqlite(options, started)
        return
    psql(options.database, sql)
    print(f"preloaded in {time.monotonic() - started:.0f} s", flush=True)


def preload_sqlite(options: argparse.Namespace, started: float) -> None:
    import sqlite3

    with sqlite3.connect(options.sqlite_path) as db:
        (owner,) = db.execute("SELECT id FROM users WHERE username = 'admin'").fetchone()
        (template,) = db.execute(
            "SELECT id FROM workflow_templates WHERE template_name = 'main_menu' AND is_latest"
        ).fetchone()
        n = options.preload_conversations
        series = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {})"
        db.execute(
            series.format(n) + " INSERT INTO conversation_state (id, owner_id, phone_number, "
            "conversation_flow, current_step, context, template_id, last_interaction, "
            "expires_at, created_at, updated_at) SELECT 'p' || n, ?, '4499' || n, 'main_menu', "
            '\'menu\', \'{"template_name": "main_menu", "current_step": "menu"}\', ?, '
            "datetime('now'), datetime('now', '+20 days'), datetime('now'), datetime('now') "
            "FROM s",
            (owner, template),
        )
        db.execute(
            series.format(options.preload_messages) + " INSERT INTO whatsapp_messages (owner_id, "
            "phone_number_id, customer, direction, wamid, type, payload, status, attempts, "
            "created_at, updated_at) SELECT ?, ?, '4499' || (n % ? + 1), "
            "CASE WHEN n % 2 = 0 THEN 'in' ELSE 'out' END, 'wamid.OLD.' || n, 'text', "
            "'{\"type\": \"text\"}', CASE WHEN n % 2 = 0 THEN 'processed' ELSE 'read' END, 0, "
            "datetime('now', '-10 days'), datetime('now', '-10 days') FROM s",
            (owner, PHONE_NUMBER_ID, n),
        )
    print(f"preloaded in {time.monotonic() - started:.0f} s", flush=True)


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


class RawClient:
    """A minimal HTTP/1.1 client on kept-alive connections: POST, read the status, done.

    httpx costs about a millisecond of CPU per request, which on a 2-core machine would
    make the load generator the bottleneck; this costs a few dozen microseconds.
    """

    def __init__(self, url: str, connections: int) -> None:
        address = url.removeprefix("http://")
        self.host, port = address.split(":")
        self.port = int(port)
        self.slots = asyncio.Semaphore(connections)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """The response's status (0: no answer); a kept-alive connection the server closed
        meanwhile is replaced once."""
        async with self.slots:
            if self.idle:
                status = await self._post(self.idle.pop(), path, body, headers)
                if status:
                    return status
            return await self._post(None, path, body, headers)

    async def _post(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port)
            reader, writer = connection
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
                + body
            )
            status = int((await reader.readline()).split()[1])
            length, chunked = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                chunked = chunked or line.lower().startswith(b"transfer-encoding: chunked")
            while chunked and (size := int((await reader.readline()).strip(), 16)):
                await reader.readexactly(size + 2)
            await reader.readexactly(2 if chunked else length)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            if connection is not None:
                connection[1].close()
            return 0
        self.idle.append(connection)
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


@dataclass
class Result:
    sent: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    webhook_ms: list[float] = field(default_factory=list)
    refused: int = 0  # 503: not stored, Meta would deliver it again
    errors: int = 0  # anything else (or no answer at all)
    lag_ms: list[float] = field(default_factory=list)  # how late the generator sent


async def drive(
    url: str,
    graph: str,
    rate: float,
    seconds: float,
    customers: int,
    *,
    drain_seconds: float = 120,
) -> dict[str, Any]:
    """Send ``rate * seconds`` webhooks, open loop; wait for every reply; summarise."""
    result = Result()
    names = [f"4477{n:08d}" for n in range(customers)]
    previous: dict[str, asyncio.Task[None]] = {}
    client = RawClient(url, connections=512)
    async with httpx.AsyncClient(timeout=30) as control:
        await control.delete(graph + "/_stats")

        async def one(
            customer_key: str, step: int, serial: str, before: asyncio.Task[None] | None
        ) -> None:
            if before is not None:
                await before  # a customer's messages stay in order
            raw, headers = signed_webhook(customer_key, step, serial)
            started = time.time()
            status = await client.post("/webhooks/whatsapp", raw, headers)
            result.webhook_ms.append((time.time() - started) * 1000)
            if status == 200:
                result.sent["+" + customer_key].append(started)
            elif status == 503:
                result.refused += 1
            else:
                result.errors += 1

        total = int(rate * seconds)
        run = time.time_ns()
        began = time.time()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for serial in range(total):
            due = start + serial / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            result.lag_ms.append((loop.time() - due) * 1000)
            customer_key = names[serial % customers]
            step = serial // customers
            previous[customer_key] = asyncio.create_task(
                one(customer_key, step, f"{run}.{serial}", previous.get(customer_key))
            )
        await asyncio.gather(*previous.values())
        offered_until = time.time()
        accepted = sum(len(times) for times in result.sent.values())
        arrivals = await wait_for_replies(graph, accepted, deadline=time.time() + drain_seconds)
    client.close()
    latencies = [
        (arrived - sent) * 1000
        for customer_key, sends in result.sent.items()
        for sent, arrived in zip(sends, arrivals.get(customer_key, []), strict=False)
    ]
    answered = len(latencies)
    last = max((times[-1] for times in arrivals.values() if times), default=began)
    return {
        "offered": total,
        "accepted": accepted,
        "answered": answered,
        "refused": result.refused,
        "errors": result.errors,
        "accepted_per_second": accepted / max(offered_until - began, 1e-9),
        "per_second": answered / max(last - began, 1e-9),
        "drained_after": max(last - offered_until, 0.0),
        "webhook": percentiles(result.webhook_ms),
        "end_to_end": percentiles(latencies),
        "lag": percentiles(result.lag_ms),
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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their descendants so far."""
    children: dict[int, list[int]] = defaultdict(list)
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


# --- main --------------------------------------------------------------------------------


async def measure(options: argparse.Namespace, logs: Path) -> None:
    graph_port, ours_port, floor_port = free_port(), free_port(), free_port()
    graph = f"http://127.0.0.1:{graph_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    database_url = (
        f"sqlite+aiosqlite:///{options.sqlite_path}"
        if options.sqlite
        else f"postgresql+asyncpg://{PG}/{options.database}"
    )
    env.update(
        CONVOFLOW_DATABASE_URL=database_url,
        CONVOFLOW_WHATSAPP_API_BASE=graph,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=TOKEN,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_APP_SECRET=APP_SECRET,
        CONVOFLOW_WHATSAPP_MAX_MPS="1000",
        CONVOFLOW_LOG_LEVEL="WARNING",
        BENCH_GRAPH_URL=graph,
        BENCH_DATABASE=options.database,
    )
    if not options.sqlite:
        env["CONVOFLOW_REDIS_URL"] = f"redis://127.0.0.1:6379/{options.redis_db}"
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
        if options.preload:
            await asyncio.to_thread(preload, options)
        ours = [
            stack.enter_context(
                process(
                    [
                        *convoflow,
                        "serve",
                        "--port",
                        str(ours_port),
                        "--workers",
                        str(options.servers),
                    ],
                    env,
                    logs / "serve.log",
                )
            )
        ]
        for number in range(0 if options.sqlite else options.workers):
            ours.append(
                stack.enter_context(
                    process([*convoflow, "worker"], env, logs / f"worker-{number}.log")
                )
            )
        stack.enter_context(
            process(
                uvicorn_args("webhook_standins:floor_server", floor_port, options.servers),
                env,
                logs / "floor.log",
            )
        )
        await wait_for(f"http://127.0.0.1:{ours_port}/healthz")
        await wait_for(f"http://127.0.0.1:{floor_port}/healthz")
        pids = [child.pid for child in ours]
        header(options)
        for rate in options.rates:
            runs = {}
            for name, port in (("floor", floor_port), ("convoflow", ours_port)):
                url = f"http://127.0.0.1:{port}"
                await drive(url, graph, rate, 1.0, options.customers)
                before = [cpu_seconds([pid]) for pid in pids]
                runs[name] = await drive(url, graph, rate, options.seconds, options.customers)
                runs[name]["cpu_ms"] = [
                    (cpu_seconds([pid]) - spent) * 1000
                    for pid, spent in zip(pids, before, strict=True)
                ]
            report(rate, runs)
        if options.overload:
            url = f"http://127.0.0.1:{ours_port}"
            run = await drive(
                url,
                graph,
                options.overload,
                options.seconds,
                options.customers,
                drain_seconds=600,
            )
            report_overload(options.overload, run)


def header(options: argparse.Namespace) -> None:
    mode = (
        "embedded default: one `convoflow serve` on SQLite"
        if options.sqlite
        else f"PostgreSQL + Redis: {options.servers} server(s), {options.workers} worker(s)"
    )
    print(
        f"webhook load on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; {mode}; {options.seconds:g} s per rate "
        f"from {options.customers} customers" + (" ; preloaded" if options.preload else ""),
        flush=True,
    )


def line(name: str, run: dict[str, Any]) -> str:
    return (
        f"  {name:>9}: accepted {run['accepted']}/{run['offered']} "
        f"({run['accepted_per_second']:.0f}/s, {run['refused']} refused 503, "
        f"{run['errors']} errors), answered {run['answered']} = {run['per_second']:.0f} msg/s; "
        f"webhook p50 {run['webhook'][0]:.1f} ms p99 {run['webhook'][1]:.1f} ms; "
        f"end-to-end p50 {run['end_to_end'][0]:.1f} ms p99 {run['end_to_end'][1]:.1f} ms; "
        f"generator lag p99 {run['lag'][1]:.1f} ms"
    )


def report(rate: float, runs: dict[str, dict[str, Any]]) -> None:
    print(f"offered {rate:g} msg/s:")
    for name, run in runs.items():
        print(line(name, run))
    ours = runs["convoflow"]
    ratio = ours["per_second"] / max(runs["floor"]["per_second"], 1e-9)
    cpu = [spent / max(ours["answered"], 1) for spent in ours["cpu_ms"]]
    shares = " + ".join(f"{spent:.1f}" for spent in cpu)
    print(
        f"  convoflow throughput = {ratio:.2f} x floor; our processes' CPU per answered "
        f"message {sum(cpu):.1f} ms (serve + each worker: {shares})",
        flush=True,
    )


def report_overload(rate: float, run: dict[str, Any]) -> None:
    lost = run["accepted"] - run["answered"]
    print(f"overload, offered {rate:g} msg/s:")
    print(line("convoflow", run))
    print(
        f"  backlog drained {run['drained_after']:.1f} s after the last webhook; "
        f"accepted but never answered: {lost}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates",
        type=lambda text: [float(part) for part in text.split(",")],
        default=[100.0, 200.0, 300.0],
        help="offered webhooks per second, comma-separated; each is measured in turn",
    )
    parser.add_argument("--seconds", type=float, default=10, help="how long to offer each rate")
    parser.add_argument("--customers", type=int, default=500, help="simulated customers")
    parser.add_argument("--servers", type=int, default=1, help="convoflow serve processes")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="convoflow worker processes (the layout for 2 cores: 1 server, 1 worker)",
    )
    parser.add_argument("--sqlite", action="store_true", help="one `convoflow serve` on SQLite")
    parser.add_argument("--preload", action="store_true", help="1M conversations, 5M messages")
    parser.add_argument("--preload-conversations", type=int, default=1_000_000)
    parser.add_argument("--preload-messages", type=int, default=5_000_000)
    parser.add_argument("--overload", type=float, default=0, help="then offer this rate")
    parser.add_argument("--database", default=DATABASE, help="PostgreSQL database (recreated)")
    parser.add_argument("--redis-db", type=int, default=12, help="Redis database (flushed)")
    parser.add_argument("--logs", type=Path, default=Path("bench-logs"), help="process logs")
    options = parser.parse_args()
    options.logs.mkdir(exist_ok=True)
    options.sqlite_path = str((options.logs / "bench.db").resolve())
    prepare_database(options)
    try:
        import uvloop
    except ImportError:
        asyncio.run(measure(options, options.logs))
    else:
        uvloop.run(measure(options, options.logs))


if __name__ == "__main__":
    main()
