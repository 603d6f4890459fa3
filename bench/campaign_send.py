"""Campaign send: a large campaign through a real worker to the stand-in Graph API.

For each audience size of ``--sizes`` (default 10,000 then 100,000) it recreates the
database, seeds the default owner and number (messaging limit tier: unlimited), starts the
stand-in Graph API (:func:`webhook_standins.graph_standin`) and fresh ``convoflow worker``
processes on PostgreSQL and Redis, creates a campaign with the CLI (a CSV audience),
schedules it now at ``--mps`` (the number's ``CONVOFLOW_WHATSAPP_MAX_MPS`` too) and waits
until it is completed. It prints:

* recipients per second, from the first send to the last as the stand-in saw them, and that
  rate as a ratio of the limit;
* each worker's peak resident memory (``VmHWM``) and its resident memory when idle before
  the campaign, so the growth a campaign causes is visible; the last line compares the
  peaks of the largest and the smallest audience (the target: within 10 %);
* the workers' CPU milliseconds per recipient (from ``/proc``), the figure that holds on a
  busy machine: two idle cores send at most 2,000 / that many recipients a second;
* that every recipient was sent exactly one message.

``--planning`` measures the planning side alone, in this process: the campaign scheduler's
passes (the same code the workers run) on the fake clock, one second per pass, with every
queued row marked sent by one SQL statement between passes in place of the sender; it
prints the passes, batches and the peak of Python memory the passes allocated
(tracemalloc) per size. It shows whether planning grows with the audience, in minutes
rather than the hours a 100,000-recipient send takes through a worker on a busy machine.

    python bench/campaign_send.py                       # 10k then 100k, 1,000 mps, 1 worker
    python bench/campaign_send.py --sizes 2000 --workers 2
    python bench/campaign_send.py --planning            # scheduler memory, 10k then 100k

Needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379); it uses the
database ``--database`` (default ``convoflow_bench_campaign``, recreated for each size)
and Redis database ``--redis-db`` (default 11, flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from webhook_load import cpu_seconds, free_port, process, psql, uvicorn_args, wait_for
from webhook_standins import PG, PHONE_NUMBER_ID, TOKEN

CONVOFLOW = [sys.executable, "-m", "convoflow.cli"]


def prepare(options: argparse.Namespace, env: dict[str, str]) -> None:
    """A new database with the default owner and an unlimited number; Redis emptied."""
    psql("postgres", f"DROP DATABASE IF EXISTS {options.database} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {options.database}")
    subprocess.run(["redis-cli", "-n", str(options.redis_db), "flushdb"], check=True)
    subprocess.run([*CONVOFLOW, "seed"], env=env, check=True, capture_output=True)
    psql(options.database, "UPDATE phone_numbers SET messaging_limit_tier = 'TIER_UNLIMITED'")


def convoflow(env: dict[str, str], *args: str) -> str:
    """Run a CLI command; its output."""
    done = subprocess.run([*CONVOFLOW, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def create_campaign(env: dict[str, str], size: int, logs: Path) -> str:
    """A draft campaign with a CSV audience of ``size`` numbers; its id."""
    audience = logs / f"audience-{size}.csv"
    with audience.open("w") as out:
        out.write("phone,city\n")
        for n in range(size):
            out.write(f"33{612000000 + n},Lyon\n")
    campaign_id = convoflow(
        env, "campaigns", "create", f"bench {size}", "--template", "bench_promo",
        "--param", "body={{recipient.city}}",
    )  # fmt: skip
    convoflow(env, "campaigns", "audience", campaign_id, "--csv", str(audience))
    return campaign_id


def status_of(database: str, campaign_id: str) -> str:
    """The campaign's status ("" when the database does not answer this time)."""
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc",
         f"SELECT status FROM marketing_campaigns WHERE id = '{campaign_id}'"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else ""


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def environment(options: argparse.Namespace, graph: str) -> dict[str, str]:
    """The environment of the CLI and the workers."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=database_url(options),
        CONVOFLOW_REDIS_URL=f"redis://127.0.0.1:6379/{options.redis_db}",
        CONVOFLOW_WHATSAPP_API_BASE=graph,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=TOKEN,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_MAX_MPS=f"{options.mps:g}",
        CONVOFLOW_TEMPLATE_SYNC_SECONDS="0",
        CONVOFLOW_LOG_LEVEL="WARNING",
    )
    return env


def database_url(options: argparse.Namespace) -> str:
    return f"postgresql+asyncpg://{PG}/{options.database}"


async def run_size(options: argparse.Namespace, size: int) -> dict[str, Any]:
    graph_port = free_port()
    graph = f"http://127.0.0.1:{graph_port}"
    env = environment(options, graph)
    await asyncio.to_thread(prepare, options, env)
    campaign_id = await asyncio.to_thread(create_campaign, env, size, options.logs)
    with ExitStack() as stack:
        stack.enter_context(
            process(
                uvicorn_args("webhook_standins:graph_standin", graph_port),
                env,
                options.logs / f"graph-{size}.log",
            )
        )
        await wait_for(graph + "/_stats")
        workers = [
            stack.enter_context(
                process([*CONVOFLOW, "worker"], env, options.logs / f"worker-{size}-{n}.log")
            )
            for n in range(options.workers)
        ]
        await asyncio.sleep(options.settle)  # started, imported, connected: the idle size
        idle = [memory_kib(worker.pid)["VmRSS"] for worker in workers]
        cpu_before = cpu_seconds([worker.pid for worker in workers])
        convoflow(env, "campaigns", "schedule", campaign_id, "--max-mps", f"{options.mps:g}")
        started = time.monotonic()
        while await asyncio.to_thread(status_of, options.database, campaign_id) != "completed":
            if time.monotonic() - started > options.timeout:
                raise SystemExit(f"campaign of {size} not completed in {options.timeout:g} s")
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        peaks = [memory_kib(worker.pid)["VmHWM"] for worker in workers]
        cpu = cpu_seconds([worker.pid for worker in workers]) - cpu_before
        async with httpx.AsyncClient(timeout=60) as client:
            arrivals: dict[str, list[float]] = (await client.get(graph + "/_stats")).json()
    times = sorted(moment for moments in arrivals.values() for moment in moments)
    sending = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "size": size,
        "recipients": len(arrivals),
        "once": sum(1 for moments in arrivals.values() if len(moments) == 1),
        "per_second": (len(times) - 1) / sending,
        "elapsed": elapsed,
        "cpu_ms": cpu * 1000 / size,
        "idle_kib": idle,
        "peak_kib": peaks,
    }


def report(options: argparse.Namespace, run: dict[str, Any]) -> None:
    ratio = run["per_second"] / options.mps
    memory = ", ".join(
        f"peak {peak / 1024:.1f} MiB (idle {idle / 1024:.1f} MiB, +{(peak - idle) / 1024:.1f})"
        for peak, idle in zip(run["peak_kib"], run["idle_kib"], strict=True)
    )
    print(
        f"{run['size']:>7} recipients: {run['per_second']:.0f} recipients/s = {ratio:.2f} x the "
        f"{options.mps:g} mps limit ({run['elapsed']:.1f} s to completed); workers' CPU "
        f"{run['cpu_ms']:.1f} ms per recipient; {run['once']}/{run['size']} sent exactly once; "
        f"worker memory: {memory}",
        flush=True,
    )


async def plan_size(options: argparse.Namespace, size: int) -> dict[str, Any]:
    """The scheduler's passes over a campaign of ``size``, sends settled by SQL."""
    from sqlalchemy import text

    from convoflow.clock import FakeClock
    from convoflow.services.campaigns.scheduler import CampaignScheduler
    from convoflow.store.database import create_db_session_factory, create_engine

    env = environment(options, "http://127.0.0.1:9")  # nothing is sent in this mode
    await asyncio.to_thread(prepare, options, env)
    campaign_id = await asyncio.to_thread(create_campaign, env, size, options.logs)
    convoflow(env, "campaigns", "schedule", campaign_id, "--max-mps", f"{options.mps:g}")
    engine = create_engine(database_url(options))
    db_sessions = create_db_session_factory(engine)
    clock = FakeClock(datetime.now(UTC))
    scheduler = CampaignScheduler(db_sessions, clock=clock)
    settle = text(
        "UPDATE whatsapp_messages SET status = 'sent', wamid = 'wamid.PLAN.' || id, "
        "sent_at = now(), next_attempt_at = NULL WHERE direction = 'out' AND status = 'queued'"
    )
    passes = 0
    tracemalloc.start()
    started = time.monotonic()
    try:
        while True:
            report = await scheduler.tick()
            passes += 1
            if report.completed:
                break
            async with engine.begin() as connection:
                await connection.execute(settle)
            clock.advance(1)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await engine.dispose()
    status = await asyncio.to_thread(status_of, options.database, campaign_id)
    return {"size": size, "passes": passes, "peak": peak, "elapsed": elapsed, "status": status}


async def measure_planning(options: argparse.Namespace) -> None:
    # A small campaign first, not counted: the first passes of a process import modules and
    # fill SQLAlchemy's statement cache, which would weigh on whichever size came first.
    await plan_size(options, 1000)
    runs = []
    for size in options.sizes:
        run = await plan_size(options, size)
        runs.append(run)
        print(
            f"{size:>7} recipients planned in {run['passes']} passes ({run['elapsed']:.1f} s, "
            f"campaign {run['status']}); peak Python memory of the passes "
            f"{run['peak'] / 1024 / 1024:.2f} MiB",
            flush=True,
        )
    if len(runs) > 1:
        ratio = runs[-1]["peak"] / runs[0]["peak"]
        print(
            f"planning peak memory, {runs[-1]['size']} vs {runs[0]['size']} recipients: "
            f"{ratio:.3f} x ({'within' if ratio <= 1.10 else 'NOT within'} 10 %)",
            flush=True,
        )


async def measure(options: argparse.Namespace) -> None:
    print(
        f"campaign send on {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"cores, load average {os.getloadavg()[0]:.1f} at start; {options.workers} worker(s), "
        f"PostgreSQL + Redis, limit {options.mps:g} mps",
        flush=True,
    )
    runs = []
    for size in options.sizes:
        runs.append(await run_size(options, size))
        report(options, runs[-1])
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        ratio = sum(large["peak_kib"]) / sum(small["peak_kib"])
        print(
            f"peak memory, {large['size']} vs {small['size']} recipients: {ratio:.3f} x "
            f"({'within' if ratio <= 1.10 else 'NOT within'} 10 %)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[10_000, 100_000],
        help="audience sizes, comma-separated; each is measured in turn",
    )
    parser.add_argument("--planning", action="store_true", help="the scheduler alone")
    parser.add_argument("--mps", type=float, default=1000.0, help="the messages-per-second limit")
    parser.add_argument("--workers", type=int, default=1, help="convoflow worker processes")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before idle memory")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per campaign")
    parser.add_argument("--database", default="convoflow_bench_campaign", help="recreated")
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database (flushed)")
    parser.add_argument("--logs", type=Path, default=Path("bench-logs"), help="process logs")
    options = parser.parse_args()
    options.logs.mkdir(exist_ok=True)
    asyncio.run(measure_planning(options) if options.planning else measure(options))


if __name__ == "__main__":
    main()
