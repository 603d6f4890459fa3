"""AI templates: ``guidelines`` without a step graph run as one AI conversation.

A template whose ``menu_structure`` has no steps but which has ``guidelines`` is run as a
graph of one ``ai_reply`` step (:data:`AI_CONVERSATION_STEP`) that fills the whole
``state_schema``, confirms it with a summary and then completes (dependencies and the end
action, as for any template). Its model settings come from ``default_params.llm``
(:class:`LlmParams`); ``workflow_type`` decides whether ``required_tools`` and
``required_retrievers`` are offered to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AI_CONVERSATION_STEP = "assistant"
"""The id of the one step an AI template runs as."""
LLM_PARAMS_KEY = "llm"
"""The key of ``default_params`` that holds the model settings (never a flow variable)."""
DEFAULT_CONVERSATION_TURNS = 30
WorkflowType = Literal["plain", "tools", "rag", "full"]
TOOL_WORKFLOWS = frozenset({"tools", "full"})
KNOWLEDGE_WORKFLOWS = frozenset({"rag", "full"})


class LlmParams(BaseModel):
    """``default_params.llm``: how a template uses the model.

    ``model`` overrides ``CONVOFLOW_LLM_MODEL``; ``max_tokens`` bounds one call's answer;
    ``max_turns`` the model turns of an AI template's conversation; ``max_conversation_tokens``
    the tokens one conversation may use; ``daily_cost_cap`` what the template may cost per
    day (UTC, in the price table's currency); ``redact_pii`` masks ``pii`` fields in what is
    sent; ``fallback_text`` is what the customer gets when the model cannot answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(default=None, min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=100_000)
    max_turns: int = Field(default=DEFAULT_CONVERSATION_TURNS, ge=1, le=100)
    max_conversation_tokens: int | None = Field(default=None, ge=1)
    daily_cost_cap: float | None = Field(default=None, ge=0)
    redact_pii: bool = False
    fallback_text: str | None = Field(default=None, min_length=1)


def llm_params_of(default_params: Mapping[str, Any]) -> dict[str, Any]:
    """The raw ``default_params.llm`` object (empty when absent or not an object)."""
    raw = default_params.get(LLM_PARAMS_KEY)
    return dict(raw) if isinstance(raw, Mapping) else {}


def is_ai_conversation(menu_structure: Mapping[str, Any] | None, guidelines: str | None) -> bool:
    """Whether a template runs as an AI conversation: guidelines, and no steps of its own."""
    has_steps = bool((menu_structure or {}).get("steps"))
    return bool(guidelines and guidelines.strip()) and not has_steps


def ai_conversation_graph(
    *,
    state_schema: Mapping[str, Any],
    llm: LlmParams,
    workflow_type: str,
    required_tools: Sequence[str],
    required_retrievers: Sequence[str],
) -> dict[str, Any]:
    """The one-step graph an AI template runs as."""
    step: dict[str, Any] = {
        "id": AI_CONVERSATION_STEP,
        "type": "ai_reply",
        "fields": dict(state_schema),
        "confirm": bool(state_schema),
        "max_turns": llm.max_turns,
        "tools": list(required_tools) if workflow_type in TOOL_WORKFLOWS else [],
        "knowledge_bases": (
            list(required_retrievers) if workflow_type in KNOWLEDGE_WORKFLOWS else []
        ),
    }
    return {"start": AI_CONVERSATION_STEP, "steps": [step]}
