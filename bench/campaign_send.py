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
* that every recipient was sent exactly one message.

    python bench/campaign_send.py                       # 10k then 100k, 1,000 mps, 1 worker
    python bench/campaign_send.py --sizes 2000 --workers 2

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
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from webhook_load import free_port, process, psql, uvicorn_args, wait_for
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


async def run_size(options: argparse.Namespace, size: int) -> dict[str, Any]:
    graph_port = free_port()
    graph = f"http://127.0.0.1:{graph_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=f"postgresql+asyncpg://{PG}/{options.database}",
        CONVOFLOW_REDIS_URL=f"redis://127.0.0.1:6379/{options.redis_db}",
        CONVOFLOW_WHATSAPP_API_BASE=graph,
        CONVOFLOW_WHATSAPP_ACCESS_TOKEN=TOKEN,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        CONVOFLOW_WHATSAPP_MAX_MPS=f"{options.mps:g}",
        CONVOFLOW_TEMPLATE_SYNC_SECONDS="0",
        CONVOFLOW_LOG_LEVEL="WARNING",
    )
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
        convoflow(env, "campaigns", "schedule", campaign_id, "--max-mps", f"{options.mps:g}")
        started = time.monotonic()
        while await asyncio.to_thread(status_of, options.database, campaign_id) != "completed":
            if time.monotonic() - started > options.timeout:
                raise SystemExit(f"campaign of {size} not completed in {options.timeout:g} s")
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        peaks = [memory_kib(worker.pid)["VmHWM"] for worker in workers]
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
        f"{options.mps:g} mps limit ({run['elapsed']:.1f} s to completed); "
        f"{run['once']}/{run['size']} sent exactly once; worker memory: {memory}",
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
            f"({'within' if abs(ratio - 1) <= 0.10 else 'NOT within'} 10 %)",
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
    parser.add_argument("--mps", type=float, default=1000.0, help="the messages-per-second limit")
    parser.add_argument("--workers", type=int, default=1, help="convoflow worker processes")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before idle memory")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per campaign")
    parser.add_argument("--database", default="convoflow_bench_campaign", help="recreated")
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database (flushed)")
    parser.add_argument("--logs", type=Path, default=Path("bench-logs"), help="process logs")
    options = parser.parse_args()
    options.logs.mkdir(exist_ok=True)
    asyncio.run(measure(options))


if __name__ == "__main__":
    main()
