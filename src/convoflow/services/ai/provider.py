"""The model provider behind a small interface: OpenAI Chat Completions with tool calling.

:class:`OpenAiProvider` speaks the protocol through the official ``openai`` SDK, so it
works against OpenAI, Ollama, vLLM, a llama.cpp server, LiteLLM and other compatible
servers (``CONVOFLOW_LLM_BASE_URL``). Timeouts, connection errors, 408, 409, 429 and 5xx
answers are retried by the SDK with exponential backoff (``max_retries``); what still fails
is raised as :class:`~convoflow.errors.ModelProviderError`. ``response_format`` is never
used: structured output comes from tool calls, which compatible servers support widely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from convoflow.errors import ModelProviderError

DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call of an answer: its id, the tool's name and its raw JSON arguments."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer of the model: its text, its tool calls and the tokens it cost."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatProvider(Protocol):
    """What the AI turns need of a model provider."""

    async def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        temperature: float | None,
        max_tokens: int | None,
    ) -> Completion:
        """One chat completion (tools may be empty); raises ModelProviderError."""

    async def embed(self, *, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        """The embeddings of ``texts`` and the tokens they cost; raises ModelProviderError."""


class OpenAiProvider:
    """:class:`ChatProvider` on the ``openai`` SDK (one client per process)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout_seconds: float,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        # Local servers (Ollama, llama.cpp) take any key; the SDK insists on one.
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "none",
            timeout=timeout_seconds,
            max_retries=max_retries,
        )

    async def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        temperature: float | None,
        max_tokens: int | None,
    ) -> Completion:
        """One chat completion through the SDK (see :class:`ChatProvider`)."""
        options: dict[str, Any] = {}
        if tools:
            options["tools"] = tools
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        try:
            # Plain dicts in the protocol's shape; the SDK's TypedDicts describe the same.
            answer = await self.client.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                **options,
            )
        except openai.APITimeoutError as exc:
            raise ModelProviderError(
                f"the model provider timed out: {exc}", kind="timeout"
            ) from exc
        except openai.APIStatusError as exc:
            raise ModelProviderError(
                f"the model provider answered HTTP {exc.status_code}: {_short(exc.message)}"
            ) from exc
        except openai.APIError as exc:
            raise ModelProviderError(f"the model provider failed: {_short(str(exc))}") from exc
        usage = answer.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        if not answer.choices:
            raise ModelProviderError(
                "the model provider answered without a choice",
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
        message = answer.choices[0].message
        calls = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)  # custom (non-function) calls have none
            if function is not None:
                calls.append(ToolCall(call.id, function.name, function.arguments or "{}"))
        return Completion(message.content or "", calls, prompt, completion)

    async def embed(self, *, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embeddings through the SDK's ``/embeddings`` (see :class:`ChatProvider`)."""
        try:
            answer = await self.client.embeddings.create(model=model, input=texts)
        except openai.APITimeoutError as exc:
            raise ModelProviderError(f"embeddings timed out: {exc}", kind="timeout") from exc
        except openai.APIError as exc:
            raise ModelProviderError(f"embeddings failed: {_short(str(exc))}") from exc
        ordered = sorted(answer.data, key=lambda item: item.index)
        vectors = [[float(x) for x in item.embedding] for item in ordered]
        if len(vectors) != len(texts):
            raise ModelProviderError(f"asked for {len(texts)} embeddings, got {len(vectors)}")
        tokens = int(getattr(answer.usage, "total_tokens", 0) or 0)
        return vectors, tokens

    async def close(self) -> None:
        """Release the SDK's connections."""
        await self.client.close()


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def tool_arguments(call: ToolCall) -> Any:
    """The parsed JSON arguments of a tool call (raises ValueError when they are not JSON)."""
    return json.loads(call.arguments or "{}")
