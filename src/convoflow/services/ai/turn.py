"""One model turn of an AI step: the tool-calling loop, run as an ``llm`` effect.

:meth:`AiTurns.run` takes the :class:`~convoflow.engine.outcome.LlmTurn` the engine emitted
(as stored on the effect row) and answers with the result object the engine applies (see
:mod:`convoflow.engine.ai_turns`). In between:

1. no provider configured → ``unavailable`` (the log names the settings to set);
   the conversation's tokens over ``max_conversation_tokens``, or the template's cost today
   over ``daily_cost_cap`` → ``limit``;
2. the model is called with the instructions, the transcript (personal data masked when
   ``redact_pii``) and the tools (:mod:`.tools`); each call is one ``llm_calls`` row;
3. tool calls are answered and the model called again, until it answers in text, calls
   ``reply``, ``finish`` (with every required field valid), ``handoff`` or ``classify``.
   ``set_fields`` values pass the engine's typed validation (as ``collect`` answers do);
   the result names accepted and rejected fields. ``finish`` with fields missing names
   them and the loop goes on. Invalid arguments or an unknown tool go back as an error,
   re-asked at most :data:`MAX_REASKS` times. After :data:`MAX_TOOL_CALLS` tool calls the
   model is called once more without tools, so the customer still gets an answer;
4. a provider failure (after the SDK's retries with backoff) → ``fallback``.

Nothing here raises to the effect runner: every failure is an outcome the engine turns
into the fallback text (and, for ``unavailable`` and ``limit``, a handoff).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.engine.answers import coerce_value
from convoflow.engine.fields import FieldSpec
from convoflow.errors import ModelProviderError
from convoflow.services.ai import accounting, knowledge, tools
from convoflow.services.ai.accounting import CallRecord
from convoflow.services.ai.http_tools import call_tool, schema_problems
from convoflow.services.ai.prompts import system_prompt
from convoflow.services.ai.provider import ChatProvider, Completion, ToolCall
from convoflow.services.ai.redaction import Redactor
from convoflow.store.models import LlmTool, WorkflowInstance, WorkflowTemplate

logger = logging.getLogger(__name__)

MAX_REASKS = 2
MAX_TOOL_CALLS = 8
MAX_MODEL_CALLS = 12
NO_PROVIDER = (
    "no model provider is configured: set CONVOFLOW_LLM_BASE_URL and CONVOFLOW_LLM_MODEL "
    "(or default_params.llm.model)"
)


@dataclass(slots=True)
class _Turn:
    """What one turn has gathered so far."""

    spec: Mapping[str, Any]
    run: accounting.Run
    model: str
    fields: dict[str, FieldSpec]
    values: dict[str, Any]
    redactor: Redactor
    admin_tools: dict[str, LlmTool]
    texts: list[str] = field(default_factory=list)
    accepted: dict[str, Any] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    finished: bool = False
    handoff: str | None = None
    category: str | None = None
    invalid: int = 0
    tool_calls: int = 0

    @property
    def done(self) -> bool:
        return self.finished or self.handoff is not None or self.category is not None

    def result(self, outcome: str = "ok", error: str = "") -> dict[str, Any]:
        data: dict[str, Any] = {
            "outcome": outcome,
            "text": "\n\n".join(text for text in self.texts if text.strip()),
            "fields": self.accepted,
        }
        if self.choices:
            data["choices"] = self.choices
        if self.finished:
            data["finished"] = True
        if self.handoff is not None:
            data["handoff"] = self.handoff
        if self.category is not None:
            data["category"] = self.category
        if error:
            data["error"] = error
        return data


class AiTurns:
    """Runs model turns for the effect runner (one per process)."""

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        provider: ChatProvider | None,
        http: httpx.AsyncClient,
        default_model: str = "",
        embedding_model: str = "",
        clock: Clock = SystemClock(),
    ) -> None:
        self.db_sessions = db_sessions
        self.provider = provider
        self.http = http
        self.default_model = default_model
        self.embedding_model = embedding_model
        self.clock = clock

    async def run(
        self, *, owner_id: str, instance_id: str, spec: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run one turn (see the module docstring); the result the engine applies."""
        llm = dict(spec.get("llm") or {})
        model = str(llm.get("model") or self.default_model)
        if self.provider is None or not model:
            logger.warning("AI turn of instance %s not run: %s", instance_id, NO_PROVIDER)
            return {"outcome": "unavailable", "error": NO_PROVIDER}
        turn = await self._prepare(owner_id, instance_id, spec, model)
        limit = await self._limit_reached(turn, llm)
        if limit:
            logger.info("AI turn of instance %s not run: %s", instance_id, limit)
            return {"outcome": "limit", "error": limit}
        messages = self._messages(turn)
        offered = self._tools(turn)
        for _ in range(MAX_MODEL_CALLS):
            with_tools = offered if turn.tool_calls < MAX_TOOL_CALLS else []
            try:
                answer = await self._complete(turn, messages, with_tools, llm)
            except ModelProviderError as exc:
                logger.warning("AI turn of instance %s: %s", instance_id, exc)
                return turn.result("fallback", str(exc))
            if answer.content.strip():
                turn.texts.append(turn.redactor.unmask(answer.content.strip()))
            if not answer.tool_calls:
                return turn.result()
            messages.append(_assistant_message(answer))
            for call in answer.tool_calls:
                turn.tool_calls += 1
                reply = await self._answer_tool(turn, call)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(reply)}
                )
            if turn.invalid > MAX_REASKS:
                error = f"the model called tools wrongly {turn.invalid} times"
                return turn.result("fallback", error)
            if turn.done or turn.choices:
                return turn.result()
        return turn.result() if turn.texts else turn.result("fallback", "no answer in time")

    async def _prepare(
        self, owner_id: str, instance_id: str, spec: Mapping[str, Any], model: str
    ) -> _Turn:
        fields = {
            str(name): FieldSpec.model_validate(raw)
            for name, raw in (spec.get("fields") or {}).items()
        }
        values = dict(spec.get("values") or {})
        async with self.db_sessions() as db_session:
            row = (
                await db_session.execute(
                    select(
                        WorkflowTemplate.id, WorkflowTemplate.family_id, WorkflowTemplate.version
                    )
                    .join(WorkflowInstance, WorkflowInstance.template_id == WorkflowTemplate.id)
                    .where(WorkflowInstance.id == instance_id)
                )
            ).first()
            names = [str(name) for name in spec.get("tools") or []]
            found = await db_session.scalars(
                select(LlmTool).where(LlmTool.owner_id == owner_id, LlmTool.name.in_(names))
            )
            admin_tools = {tool.name: tool for tool in found}
        run = accounting.Run(
            owner_id=owner_id,
            template_id=row.id if row else None,
            family_id=row.family_id if row else None,
            template_version=row.version if row else None,
            instance_id=instance_id,
            step_id=str(spec.get("step_id") or "") or None,
        )
        redactor = Redactor(fields, values, enabled=bool((spec.get("llm") or {}).get("redact_pii")))
        return _Turn(spec, run, model, fields, values, redactor, admin_tools)

    async def _limit_reached(self, turn: _Turn, llm: Mapping[str, Any]) -> str:
        """Why the model must not be called now ("" when it may)."""
        max_tokens = llm.get("max_conversation_tokens")
        cap = llm.get("daily_cost_cap")
        async with self.db_sessions() as db_session:
            if max_tokens is not None and turn.run.instance_id is not None:
                used = await accounting.conversation_tokens(db_session, turn.run.instance_id)
                if used >= int(max_tokens):
                    return f"the conversation used {used} tokens (max_conversation_tokens)"
            if cap is not None and turn.run.family_id is not None:
                spent = await accounting.cost_today(
                    db_session, turn.run.family_id, self.clock.now()
                )
                if spent >= float(cap):
                    return f"the template cost {spent:g} today (daily_cost_cap {cap})"
        return ""

    def _messages(self, turn: _Turn) -> list[dict[str, Any]]:
        spec = turn.spec
        system = system_prompt(
            mode=str(spec.get("mode") or ""),
            guidelines=str(spec.get("guidelines") or ""),
            fields=turn.fields,
            values=turn.values,
            categories=list(spec.get("categories") or []),
            knowledge=bool(spec.get("knowledge_bases")),
            confirm=bool(spec.get("confirm")),
            redactor=turn.redactor,
        )
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for entry in spec.get("transcript") or []:
            role = "assistant" if entry.get("role") == "assistant" else "user"
            messages.append({"role": role, "content": turn.redactor.mask(str(entry["content"]))})
        if len(messages) == 1:
            messages.append({"role": "user", "content": "(The customer opened the chat.)"})
        return messages

    def _tools(self, turn: _Turn) -> list[dict[str, Any]]:
        spec = turn.spec
        offered = tools.builtin_tools(
            mode=str(spec.get("mode") or ""),
            fields=turn.fields,
            categories=list(spec.get("categories") or []),
            knowledge=bool(spec.get("knowledge_bases")),
        )
        for tool in turn.admin_tools.values():
            offered.append(tools.admin_tool(tool.name, tool.description, tool.parameters))
        return offered

    async def _complete(
        self,
        turn: _Turn,
        messages: list[dict[str, Any]],
        offered: list[dict[str, Any]],
        llm: Mapping[str, Any],
    ) -> Completion:
        assert self.provider is not None
        started = time.monotonic()
        try:
            answer = await self.provider.complete(
                model=turn.model,
                messages=messages,
                tools=offered,
                temperature=llm.get("temperature"),
                max_tokens=llm.get("max_tokens"),
            )
        except ModelProviderError as exc:
            record = CallRecord(
                turn.model,
                exc.prompt_tokens,
                exc.completion_tokens,
                (time.monotonic() - started) * 1000.0,
                "timeout" if exc.kind == "timeout" else "error",
                str(exc)[:2000],
            )
            await self._record(turn, record)
            raise
        record = CallRecord(
            turn.model,
            answer.prompt_tokens,
            answer.completion_tokens,
            (time.monotonic() - started) * 1000.0,
            "ok",
        )
        await self._record(turn, record)
        return answer

    async def _record(self, turn: _Turn, record: CallRecord) -> None:
        async with self.db_sessions.begin() as db_session:
            await accounting.record_call(db_session, turn.run, record, now=self.clock.now())

    async def _answer_tool(self, turn: _Turn, call: ToolCall) -> dict[str, Any]:
        """Run one tool call; what goes back to the model."""
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            turn.invalid += 1
            return {"error": "the arguments are not valid JSON; call the tool again"}
        if not isinstance(arguments, dict):
            turn.invalid += 1
            return {"error": "the arguments must be a JSON object"}
        mode = str(turn.spec.get("mode") or "")
        name = call.name
        if name == tools.SET_FIELDS and turn.fields and mode != "ai_classify":
            return self._set_fields(turn, arguments)
        if name == tools.FINISH and mode != "ai_classify":
            return self._finish(turn)
        if name in turn.admin_tools:
            tool = turn.admin_tools[name]
            problems = schema_problems(tool.parameters, arguments)
            if problems:
                turn.invalid += 1
                return {"error": "invalid arguments: " + "; ".join(problems)}
            return await call_tool(self.http, tool, arguments)
        model = self._arguments_model(turn, name, mode)
        if model is None:
            turn.invalid += 1
            return {"error": f"unknown tool {name!r}: use only the tools you were given"}
        parsed, problem = tools.check(model, arguments)
        if parsed is None:
            turn.invalid += 1
            return {"error": f"invalid arguments: {problem}; call {name} again"}
        if isinstance(parsed, tools.HandoffArguments):
            turn.handoff = parsed.reason
        elif isinstance(parsed, tools.ReplyArguments):
            turn.texts.append(turn.redactor.unmask(parsed.text))
            turn.choices = [choice for choice in parsed.choices if choice.strip()]
        elif isinstance(parsed, tools.SearchArguments):
            return await self._search(turn, parsed.query)
        else:
            turn.category = str(getattr(parsed, "category", tools.OTHER))
        return {"ok": True}

    @staticmethod
    def _arguments_model(turn: _Turn, name: str, mode: str) -> type[BaseModel] | None:
        """The arguments model of a built-in tool offered in this turn (None: not offered)."""
        if name == tools.HANDOFF:
            return tools.HandoffArguments
        if name == tools.REPLY:
            return tools.ReplyArguments
        if name == tools.SEARCH and turn.spec.get("knowledge_bases"):
            return tools.SearchArguments
        if name == tools.CLASSIFY and mode == "ai_classify":
            ids = [str(c["id"]) for c in turn.spec.get("categories") or []]
            return tools.classify_arguments(ids)
        return None

    def _set_fields(self, turn: _Turn, arguments: dict[str, Any]) -> dict[str, Any]:
        accepted: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        for name, raw in arguments.items():
            spec = turn.fields.get(name)
            if spec is None:
                rejected[name] = "unknown field"
                continue
            if raw is None:
                continue
            parsed = coerce_value(spec, turn.redactor.unmask(raw))
            if parsed.error is None:
                accepted[name] = parsed.value
            else:
                rejected[name] = parsed.error
        turn.accepted.update(accepted)
        turn.values.update(accepted)
        shown = {name: turn.redactor.mask(str(value)) for name, value in accepted.items()}
        return {"accepted": shown, "rejected": rejected}

    def _finish(self, turn: _Turn) -> dict[str, Any]:
        missing = [
            name
            for name, spec in turn.fields.items()
            if spec.required and turn.values.get(name) in (None, "")
        ]
        if missing:
            return {"error": "required fields are missing", "missing": missing}
        turn.finished = True
        return {"ok": True}

    async def _search(self, turn: _Turn, query: str) -> dict[str, Any]:
        embed = self._embedder(turn) if self.embedding_model else None
        names = [str(name) for name in turn.spec.get("knowledge_bases") or []]
        try:
            async with self.db_sessions() as db_session:
                found = await knowledge.search(
                    db_session,
                    owner_id=turn.run.owner_id,
                    names=names,
                    query=turn.redactor.unmask(query),
                    embed=embed,
                )
        except ModelProviderError as exc:
            return {"error": f"the search failed: {exc}"}
        if not found:
            return {"results": [], "note": "nothing relevant found"}
        return {"results": [item.to_json() for item in found]}

    def document_embedder(self, owner_id: str) -> knowledge.Embedder | None:
        """How uploaded documents get their embeddings (None without an embedding model);
        each call is an ``llm_calls`` row of the owner."""
        if self.provider is None or not self.embedding_model:
            return None
        run = accounting.Run(owner_id, None, None, None, None, None)
        provider, model = self.provider, self.embedding_model

        async def embed(texts: list[str]) -> list[list[float]]:
            started = time.monotonic()
            vectors, tokens = await provider.embed(model=model, texts=texts)
            record = CallRecord(model, tokens, 0, (time.monotonic() - started) * 1000.0, "ok")
            async with self.db_sessions.begin() as db_session:
                await accounting.record_call(db_session, run, record, now=self.clock.now())
            return vectors

        return embed

    def _embedder(self, turn: _Turn) -> knowledge.Embedder:
        async def embed(texts: list[str]) -> list[list[float]]:
            assert self.provider is not None
            started = time.monotonic()
            vectors, tokens = await self.provider.embed(model=self.embedding_model, texts=texts)
            latency = (time.monotonic() - started) * 1000.0
            record = CallRecord(self.embedding_model, tokens, 0, latency, "ok")
            await self._record(turn, record)
            return vectors

        return embed


def _assistant_message(answer: Completion) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": answer.content or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in answer.tool_calls
        ],
    }
