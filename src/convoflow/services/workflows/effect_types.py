"""What an effect's run produced: plain data shared by the job runner and the result handlers.

This module imports nothing else of convoflow, so the runner (:mod:`convoflow.jobs.effects`)
and every handler can use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RESPONSE_BODY_LIMIT", "EffectRun", "FedBack", "FinishedEffect"]

#: How much of an answer's body is kept (on the effect row and the instance).
RESPONSE_BODY_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class FinishedEffect:
    """The effect row as its runner claimed it; ``attempts`` is the claim's token."""

    id: str
    owner_id: str
    instance_id: str
    effect_id: str
    kind: str
    attempts: int


@dataclass(frozen=True, slots=True)
class EffectRun:
    """How an effect ended after its last attempt."""

    ok: bool
    attempts: int
    data: Any = None
    error: str = ""
    status_code: int | None = None
    body: str = ""

    def summary(self) -> dict[str, Any]:
        """What is stored as the effect row's ``result``."""
        return {
            "ok": self.ok,
            "status_code": self.status_code,
            "body": self.body[:RESPONSE_BODY_LIMIT],
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class FedBack:
    """What changed: a conversation whose outbox may have new rows, instances whose
    effects may have new rows (the jobs deliver and run those next)."""

    owner_id: str
    customer_key: str | None = None
    instance_ids: list[str] = field(default_factory=list)
