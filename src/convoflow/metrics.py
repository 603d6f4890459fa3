"""The process's Prometheus metrics, all named ``convoflow_*``, in one registry.

Every process (each ``convoflow serve``, each ``convoflow worker``) keeps its own
:data:`REGISTRY`; Prometheus scrapes each process. The message path reports through the
small functions here (:func:`observe_webhook`, :func:`observe_batch`,
:func:`observe_processing`, :func:`count_send`, :func:`observe_rate_limit_wait`): an
observation is a few arithmetic operations, never I/O.

What the database and Redis know (pending and queued messages, the outbox lag, live
workers) is read when a scrape comes, not on the message path: the composition root hands
:func:`watch_state` a coroutine that reads a :class:`ProcessState`, and every scrape runs it
on the process's event loop (scrapes are answered on a thread: the worker's metrics server
is one, and ``GET /metrics`` renders on one).

This module imports nothing of convoflow: any layer may report here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "STAGES",
    "MetricsServer",
    "ProcessState",
    "StateReader",
    "count_send",
    "exposition",
    "observe_batch",
    "observe_processing",
    "observe_rate_limit_wait",
    "observe_webhook",
    "serve_metrics",
    "unwatch_state",
    "watch_state",
]

logger = logging.getLogger(__name__)

#: The process's registry (not prometheus_client's global one: only what we register).
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

#: The ``Content-Type`` of :func:`exposition`'s text.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Where messages come in batches: webhook deliveries stored, customers' messages
#: processed, outbox rows claimed.
STAGES = ("inbox", "processor", "sender")
#: How long a scrape waits for the database and Redis before leaving their gauges out.
STATE_READ_SECONDS = 5.0

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_WAIT_BUCKETS = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

_webhook_seconds = Histogram(
    "convoflow_webhook_seconds",
    "Time to answer a POST /webhooks/whatsapp, by HTTP status.",
    ["status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
_batch_size = Histogram(
    "convoflow_batch_size",
    "Messages handled together: inbox = messages stored per webhook delivery, "
    "processor = messages processed per customer batch, sender = rows per claim.",
    ["stage"],
    buckets=_SIZE_BUCKETS,
    registry=REGISTRY,
)
_processing_seconds = Histogram(
    "convoflow_processing_seconds",
    "Time to process one inbound message (a batch's time shared by its messages).",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
_sends = Counter(
    "convoflow_sends",
    "Outbound send attempts by result (sent, parked, retry, deferred, failed) and Meta "
    "error code (empty when none).",
    ["result", "error_code"],
    registry=REGISTRY,
)
_rate_limit_wait = Histogram(
    "convoflow_rate_limit_wait_seconds",
    "Seconds a send waited for the per-number rate limit; outcome deferred: the wait "
    "was too long and the row was rescheduled instead.",
    ["outcome"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)


def observe_webhook(seconds: float, status: int) -> None:
    """A webhook delivery was answered ``status`` after ``seconds``."""
    _webhook_seconds.labels(str(status)).observe(seconds)


def observe_batch(stage: str, size: int) -> None:
    """``size`` messages were handled together at ``stage`` (one of :data:`STAGES`)."""
    _batch_size.labels(stage).observe(size)


def observe_processing(seconds: float, messages: int) -> None:
    """``messages`` inbound messages were processed in ``seconds`` (each counts its share)."""
    if messages <= 0:
        return
    share = seconds / messages
    child = _processing_seconds
    for _ in range(messages):
        child.observe(share)


def count_send(result: str, error_code: int | None = None) -> None:
    """One send attempt ended with ``result`` (and Meta's ``error_code``, if any)."""
    _sends.labels(result, "" if error_code is None else str(error_code)).inc()


def observe_rate_limit_wait(seconds: float, *, deferred: bool = False) -> None:
    """A send waited ``seconds`` for the rate limit (``deferred``: then gave up waiting)."""
    _rate_limit_wait.labels("deferred" if deferred else "acquired").observe(seconds)


@dataclass(frozen=True, slots=True)
class ProcessState:
    """What a scrape reads from outside the process; None: unknown (left out)."""

    pending_inbound: int | None = None
    queued_outbound: int | None = None
    inbound_lag_seconds: float | None = None
    outbox_lag_seconds: float | None = None
    workers_alive: int | None = None
    db_pool_in_use: int | None = None
    db_pool_capacity: int | None = None
    db_sessions_open: int | None = None
    db_session_slots: int | None = None


StateReader = Callable[[], Coroutine[Any, Any, ProcessState]]

_GAUGES: tuple[tuple[str, str], ...] = (
    ("pending_inbound", "Inbound messages stored and not processed yet."),
    ("queued_outbound", "Outbound messages queued and not sent yet (due or waiting a retry)."),
    ("inbound_lag_seconds", "Age of the oldest inbound message not processed yet."),
    ("outbox_lag_seconds", "Age of the oldest due queued outbound message."),
    ("workers_alive", "Processes consuming jobs (live heartbeats)."),
    ("db_pool_in_use", "Database connections of this process's pool checked out now."),
    ("db_pool_capacity", "Connections this process's pool may hand out at once."),
    ("db_sessions_open", "Database sessions of this process holding a session-gate slot."),
    ("db_session_slots", "Slots of this process's session gate (more sessions queue)."),
)


class _StateCollector(Collector):
    """Yields the :class:`ProcessState` gauges, read on the watched event loop per scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: tuple[asyncio.AbstractEventLoop, StateReader] | None = None

    def watch(self, loop: asyncio.AbstractEventLoop, read: StateReader) -> None:
        with self._lock:
            self._source = (loop, read)

    def unwatch(self, read: StateReader) -> None:
        with self._lock:
            if self._source is not None and self._source[1] is read:
                self._source = None

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            source = self._source
        if source is None:
            return []
        state = _read_state(*source)
        if state is None:
            return []
        metrics: list[Metric] = []
        for name, documentation in _GAUGES:
            value = getattr(state, name)
            if value is not None:
                metrics.append(GaugeMetricFamily(f"convoflow_{name}", documentation, value=value))
        return metrics


def _read_state(loop: asyncio.AbstractEventLoop, read: StateReader) -> ProcessState | None:
    """Run ``read`` on ``loop`` from a scrape's thread; None when it cannot be had in time."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or loop.is_closed():
        # Blocking the loop for its own coroutine would never end: render on a thread.
        return None
    future = asyncio.run_coroutine_threadsafe(read(), loop)
    try:
        return future.result(timeout=STATE_READ_SECONDS)
    except FutureTimeout:
        future.cancel()
        logger.warning("metrics: the process state took over %g s; left out", STATE_READ_SECONDS)
    except Exception:
        logger.exception("metrics: reading the process state failed; left out")
    return None


_state = _StateCollector()
REGISTRY.register(_state)


def watch_state(read: StateReader, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Have every scrape report what ``read`` returns, run on ``loop`` (default: the
    running one). One reader per process; a later call replaces the earlier."""
    _state.watch(loop or asyncio.get_running_loop(), read)


def unwatch_state(read: StateReader) -> None:
    """Stop reporting ``read``'s state (nothing changes if another reader replaced it)."""
    _state.unwatch(read)


def exposition() -> bytes:
    """The registry in Prometheus' text format; call it off the event loop that
    :func:`watch_state` watches (``asyncio.to_thread``), since it waits for that loop."""
    return generate_latest(REGISTRY)


class MetricsServer:
    """prometheus_client's HTTP server on a thread of its own, answering any path."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop answering and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_metrics(port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve :data:`REGISTRY` on ``host:port`` (``/metrics``) until stopped."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    return MetricsServer(server, thread)
