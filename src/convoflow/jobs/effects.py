"""Running effects: ``http`` steps' calls and ``api_call`` end actions, with retries.

An effect row is claimed (``running``, one more attempt, a lease in ``next_attempt_at``),
attempted once, then either rescheduled with backoff (a transport error, a timeout, 408,
429 or 5xx, attempts left) or finished: the final result goes to
:func:`convoflow.services.workflows.effect_results.feed_back`, which applies it once. A runner that
dies mid-call leaves a ``running`` row whose lease expires; the sweeper runs it again.

An ``api_call`` end action sends ``{"instance", "template", "template_id",
"template_version", "family_id", "state_data"}`` as JSON to
``end_action_target.endpoint`` (method ``end_action_target.method``, default POST, plus
``end_action_target.headers``) with ``Idempotency-Key: <instance id>`` (a retried call
repeats it, so the receiver can drop duplicates) and, when ``CONVOFLOW_END_ACTION_SECRET``
is set, ``X-Convoflow-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

An ``llm`` effect is one model turn of an AI step (:class:`~convoflow.services.ai.turn.AiTurns`);
it is attempted once (the provider's own retries run inside it) and always comes back as a
result the engine applies: a failed turn is a fallback, never a stuck conversation. The
customer's messages held since the turn was emitted (it waited for the debounce window)
are added to its transcript, and the result says how many (``heard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.channels.whatsapp.signature import sign
from convoflow.clock import Clock, SystemClock
from convoflow.errors import parse_retry_after
from convoflow.jobs.backoff import Backoff
from convoflow.services.ai.turn import AiTurns
from convoflow.services.conversations.held_messages import held_messages
from convoflow.services.workflows.effect_results import ResultContext, feed_back
from convoflow.services.workflows.effect_settlement import still_claimed
from convoflow.services.workflows.effect_types import (
    RESPONSE_BODY_LIMIT,
    EffectRun,
    FedBack,
    FinishedEffect,
)
from convoflow.store.models import WorkflowEffect, WorkflowInstance, WorkflowTemplate
from convoflow.store.transient import transient_failure

__all__ = [
    "END_ACTION_SIGNATURE_HEADER",
    "Attempt",
    "EffectRunner",
    "RunTemplate",
    "end_action_body",
]

logger = logging.getLogger(__name__)

END_ACTION_SIGNATURE_HEADER = "X-Convoflow-Signature"
END_ACTION_MAX_ATTEMPTS = 5
END_ACTION_TIMEOUT_SECONDS = 15.0
#: The lease of a claim: renewed every third of it while the attempt runs (a model turn may
#: make several calls, each with its timeout and retries), so a live runner keeps its row
#: and one that died loses it within this time.
CLAIM_SECONDS = 150.0
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of an effect: whether it worked, and whether another try may."""

    ok: bool
    retryable: bool = False
    status_code: int | None = None
    body: str = ""
    data: Any = None
    error: str = ""
    retry_after: float | None = None


AttemptRunner = Callable[["EffectRunner", FinishedEffect, dict[str, Any]], Awaitable[Attempt]]


class EffectRunner:
    """Claims, attempts and finishes effect rows."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        results: ResultContext,
        end_action_secret: str = "",
        backoff: Backoff | None = None,
        clock: Clock = SystemClock(),
        ai: AiTurns | None = None,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        self.clock = clock
        self.claim_seconds = claim_seconds
        self.ai = ai
        self.db_sessions = db_sessions
        self.http = http
        self.results = results
        self.end_action_secret = end_action_secret
        self.backoff = backoff or Backoff()

    async def run(self, effect_row_id: str) -> FedBack | None:
        """Attempt the effect once if it is due; feed back its result when it is final.

        Rows of a kind without a runner in :data:`ATTEMPT_RUNNERS` are left alone.
        """
        claimed = await self._claim(effect_row_id)
        if claimed is None:
            return None
        effect, spec = claimed
        attempt = await self._attempt_holding_claim(effect, spec)
        if attempt.ok or not attempt.retryable or effect.attempts >= _max_attempts(effect, spec):
            run = EffectRun(
                ok=attempt.ok,
                attempts=effect.attempts,
                data=attempt.data,
                error=attempt.error,
                status_code=attempt.status_code,
                body=attempt.body,
            )
            if not attempt.ok:
                logger.warning("effect %s gave up: %s", effect.id, attempt.error)
            return await feed_back(self.results, effect, run)
        delay = self.backoff.delay(effect.attempts, retry_after=attempt.retry_after)
        logger.info("effect %s failed (%s); retry in %.2fs", effect.id, attempt.error, delay)
        await self._reschedule(effect, delay, attempt.error)
        return None

    async def _claim(self, effect_row_id: str) -> tuple[FinishedEffect, dict[str, Any]] | None:
        now = self.clock.now()
        row = WorkflowEffect
        async with self.db_sessions.begin() as db_session:
            claimed = (
                await db_session.execute(
                    update(row)
                    .where(
                        row.id == effect_row_id,
                        # a `running` row that is due again lost its runner (its lease expired)
                        row.status.in_(("pending", "running")),
                        row.kind.in_(list(ATTEMPT_RUNNERS)),
                        row.next_attempt_at <= now,
                    )
                    .values(
                        status="running",
                        attempts=row.attempts + 1,
                        next_attempt_at=now + timedelta(seconds=self.claim_seconds),
                        updated_at=now,
                    )
                    .returning(
                        row.id,
                        row.owner_id,
                        row.instance_id,
                        row.effect_id,
                        row.kind,
                        row.attempts,
                        row.spec,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).first()
        if claimed is None:
            return None
        effect = FinishedEffect(
            id=claimed.id,
            owner_id=claimed.owner_id,
            instance_id=claimed.instance_id,
            effect_id=claimed.effect_id,
            kind=claimed.kind,
            attempts=claimed.attempts,
        )
        return effect, dict(claimed.spec)

    async def _attempt_holding_claim(self, effect: FinishedEffect, spec: dict[str, Any]) -> Attempt:
        """One attempt, with the claim renewed while it runs: one turn, one model call,
        however long the turn takes."""
        renewing = asyncio.create_task(self._renew_claim(effect))
        try:
            return await ATTEMPT_RUNNERS[effect.kind](self, effect, spec)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew_claim(self, effect: FinishedEffect) -> None:
        """Push the claim's lease ahead every third of it (until cancelled)."""
        while True:
            await asyncio.sleep(self.claim_seconds / 3)
            lease = self.clock.now() + timedelta(seconds=self.claim_seconds)
            try:
                async with self.db_sessions.begin() as db_session:
                    await db_session.execute(
                        update(WorkflowEffect)
                        .where(still_claimed(effect))
                        .values(next_attempt_at=lease)
                        .execution_options(synchronize_session=False)
                    )
            except Exception as exc:
                # Never fatal to the attempt: the next renewal tries again (the lease holds
                # until then); a database away is an outage, anything else a bug to see.
                if transient_failure(exc) is None:
                    logger.exception("effect %s: renewing the claim failed", effect.id)
                else:
                    logger.info("effect %s: claim not renewed (%s)", effect.id, exc)

    async def _reschedule(self, effect: FinishedEffect, delay: float, error: str) -> None:
        now = self.clock.now()
        async with self.db_sessions.begin() as db_session:
            await db_session.execute(
                update(WorkflowEffect)
                .where(still_claimed(effect))
                .values(
                    status="pending",
                    next_attempt_at=now + timedelta(seconds=delay),
                    error=error or None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    async def template_of(self, instance_id: str) -> RunTemplate:
        """Which template version an instance runs (for the end action's body)."""
        async with self.db_sessions() as db_session:
            row = (
                await db_session.execute(
                    select(
                        WorkflowTemplate.id,
                        WorkflowTemplate.template_name,
                        WorkflowTemplate.version,
                        WorkflowTemplate.family_id,
                    )
                    .join(WorkflowInstance, WorkflowInstance.template_id == WorkflowTemplate.id)
                    .where(WorkflowInstance.id == instance_id)
                )
            ).one_or_none()
        return RunTemplate(*row) if row is not None else RunTemplate()

    async def held_until(self, effect_row_id: str) -> datetime | None:
        """When a new effect that is not due yet becomes due (None: it is not such a row)."""
        row = WorkflowEffect
        async with self.db_sessions() as db_session:
            due_at: datetime | None = await db_session.scalar(
                select(row.next_attempt_at).where(
                    row.id == effect_row_id,
                    row.status == "pending",
                    row.attempts == 0,
                    row.next_attempt_at > self.clock.now(),
                )
            )
        return due_at

    async def held_for(self, effect: FinishedEffect) -> list[str]:
        """The customer's messages held for this model turn since it was emitted (the
        debounce: they go to the model with it)."""
        async with self.db_sessions() as db_session:
            return await held_messages(
                db_session,
                self.results.conversations.store,
                instance_id=effect.instance_id,
                effect_id=effect.effect_id,
                clock=self.clock,
            )

    async def request(self, method: str, url: str, *, seconds: float, **options: Any) -> Attempt:
        """One HTTP call, every failure turned into an :class:`Attempt`."""
        try:
            response = await self.http.request(method, url, timeout=seconds, **options)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return Attempt(ok=False, error=f"bad URL {url!r}: {exc}")
        except httpx.TimeoutException as exc:
            return Attempt(ok=False, retryable=True, error=f"timed out: {exc!r}")
        except httpx.RequestError as exc:
            return Attempt(ok=False, retryable=True, error=f"unreachable: {exc!r}")
        return _attempt_from(response)


def _attempt_from(response: httpx.Response) -> Attempt:
    status = response.status_code
    text = response.text
    try:
        data: Any = response.json()
    except ValueError:
        data = text
    return Attempt(
        ok=response.is_success,
        retryable=status in _RETRYABLE_STATUSES or status >= 500,
        status_code=status,
        body=text[:RESPONSE_BODY_LIMIT],
        data=data,
        error="" if response.is_success else f"HTTP {status}",
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _max_attempts(effect: FinishedEffect, spec: dict[str, Any]) -> int:
    if effect.kind == "end_action":
        value = (spec.get("target") or {}).get("max_attempts", END_ACTION_MAX_ATTEMPTS)
    else:
        value = spec.get("max_attempts", 1)
    return value if isinstance(value, int) and value >= 1 else 1


async def _call_http(runner: EffectRunner, effect: FinishedEffect, spec: dict[str, Any]) -> Attempt:
    """An ``http`` step: the call as the engine rendered it (:class:`HttpCall`)."""
    options: dict[str, Any] = {"headers": dict(spec.get("headers") or {})}
    body = spec.get("body")
    if isinstance(body, str):
        options["content"] = body.encode()
    elif body is not None:
        options["json"] = body
    return await runner.request(
        str(spec.get("method") or "GET").upper(),
        str(spec.get("url") or ""),
        seconds=float(spec.get("timeout_seconds") or 10.0),
        **options,
    )


@dataclass(frozen=True, slots=True)
class RunTemplate:
    """The template version an instance runs, as its end action names it.

    ``family_id`` names the template across versions, ``id`` and ``version`` the version
    the instance ran, so a receiver can tell runs of an older version apart.
    """

    id: str | None = None
    name: str = ""
    version: int | None = None
    family_id: str | None = None


def end_action_body(instance_id: str, template: RunTemplate, state_data: dict[str, Any]) -> bytes:
    """The exact bytes an ``api_call`` end action sends (and signs)."""
    document = {
        "instance": instance_id,
        "template": template.name,
        "template_id": template.id,
        "template_version": template.version,
        "family_id": template.family_id,
        "state_data": state_data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode()


async def _call_end_action(
    runner: EffectRunner, effect: FinishedEffect, spec: dict[str, Any]
) -> Attempt:
    """An end action; only ``api_call`` is run, other types fail with a clear error."""
    action_type = spec.get("action_type")
    if action_type != "api_call":
        return Attempt(ok=False, error=f"end action type {action_type!r} is not supported")
    target = spec.get("target") or {}
    endpoint = target.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return Attempt(ok=False, error="end_action_target.endpoint is missing")
    template = await runner.template_of(effect.instance_id)
    raw = end_action_body(effect.instance_id, template, dict(spec.get("state_data") or {}))
    headers = {str(key): str(value) for key, value in (target.get("headers") or {}).items()}
    headers.update({"Content-Type": "application/json", "Idempotency-Key": effect.instance_id})
    if runner.end_action_secret:
        # The same scheme as Meta's X-Hub-Signature-256, keyed with our own secret.
        headers[END_ACTION_SIGNATURE_HEADER] = sign(raw, runner.end_action_secret)
    return await runner.request(
        str(target.get("method") or "POST").upper(),
        endpoint,
        seconds=END_ACTION_TIMEOUT_SECONDS,
        content=raw,
        headers=headers,
    )


async def _run_llm_turn(
    runner: EffectRunner, effect: FinishedEffect, spec: dict[str, Any]
) -> Attempt:
    """An AI step's model turn; its result (even a failure) goes back to the conversation."""
    if runner.ai is None:
        return Attempt(ok=True, data={"outcome": "unavailable", "error": "no AI turns here"})
    try:
        held = await runner.held_for(effect)
        transcript = [*(spec.get("transcript") or []), *_user_entries(held)]
        data = await runner.ai.run(
            owner_id=effect.owner_id,
            instance_id=effect.instance_id,
            spec={**spec, "transcript": transcript},
        )
        if held:
            data["heard"] = len(held)
    except Exception as exc:
        if transient_failure(exc) is not None:
            raise  # the row's claim lapses and the sweeper runs the turn again
        logger.exception("AI turn %s failed", effect.id)
        return Attempt(ok=True, data={"outcome": "fallback", "error": f"{exc!r}"[:500]})
    return Attempt(ok=True, data=data, body=str(data.get("outcome", ""))[:RESPONSE_BODY_LIMIT])


def _user_entries(texts: list[str]) -> list[dict[str, str]]:
    return [{"role": "user", "content": text} for text in texts]


#: Effect kind → how one attempt runs (the composition root registers what results mean).
ATTEMPT_RUNNERS: dict[str, AttemptRunner] = {
    "http": _call_http,
    # A workflow dependency is an HTTP call too; its result handler differs.
    "dependency": _call_http,
    "end_action": _call_end_action,
    "llm": _run_llm_turn,
}
