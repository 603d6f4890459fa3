"""The analytics report's tables as CSV, one table per file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from convoflow.services.analytics.report import TemplateAnalytics

TABLES = ("runs", "days", "funnel", "edges", "messages")


def table_csv(report: TemplateAnalytics, table: str) -> str:
    """One of :data:`TABLES` as CSV text with a header row."""
    header, rows = _TABLES[table](report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _runs(report: TemplateAnalytics) -> tuple[list[str], Iterable[list[Any]]]:
    return ["status", "runs"], ([name, count] for name, count in report.runs.items())


def _days(report: TemplateAnalytics) -> tuple[list[str], Iterable[list[Any]]]:
    return ["day", "started", "completed", "rate"], (
        [day.day.isoformat(), day.started, day.completed, round(day.rate, 4)] for day in report.days
    )


def _funnel(report: TemplateAnalytics) -> tuple[list[str], Iterable[list[Any]]]:
    return ["step", "visits"], ([step, visits] for step, visits in report.visits)


def _edges(report: TemplateAnalytics) -> tuple[list[str], Iterable[list[Any]]]:
    return ["from", "to", "count"], ([a, b, n] for a, b, n in report.edges)


def _messages(report: TemplateAnalytics) -> tuple[list[str], Iterable[list[Any]]]:
    rows: list[list[Any]] = [[name, "", count] for name, count in report.messages.items()]
    rows += [["failed", "" if code is None else code, count] for code, count in report.top_errors]
    return ["status", "error_code", "messages"], rows


_TABLES = {
    "runs": _runs,
    "days": _days,
    "funnel": _funnel,
    "edges": _edges,
    "messages": _messages,
}
