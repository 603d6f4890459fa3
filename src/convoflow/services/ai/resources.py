"""What a template that calls the model may use: tools and knowledge bases that exist for
its owner and that its ``workflow_type`` allows (checked when the template is saved).

An AI template names its admin-declared tools in ``required_tools`` and its knowledge bases
in ``required_retrievers``; an AI step names them in its own ``tools`` and
``knowledge_bases``. ``plain`` allows neither, ``tools`` tools, ``rag`` knowledge bases,
``full`` both. Templates without AI steps are not checked (their lists are inert).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.ai_steps import AI_TYPES
from convoflow.engine.ai_template import KNOWLEDGE_WORKFLOWS, TOOL_WORKFLOWS, is_ai_conversation
from convoflow.engine.problems import Problem
from convoflow.services.ai.tools import BUILTIN_TOOLS
from convoflow.store.models import KnowledgeBase, LlmTool

Use = tuple[str, str, str, str]
"""(step id, field path, "tool" or "knowledge base", name)."""


def _uses(data: Mapping[str, Any]) -> Iterator[Use]:
    graph = data.get("menu_structure") or {}
    if is_ai_conversation(graph, data.get("guidelines")):
        for number, name in enumerate(data.get("required_tools") or []):
            if name not in BUILTIN_TOOLS:
                yield "", f"required_tools[{number}]", "tool", str(name)
        for number, name in enumerate(data.get("required_retrievers") or []):
            yield "", f"required_retrievers[{number}]", "knowledge base", str(name)
        return
    for step in graph.get("steps") or []:
        if not isinstance(step, Mapping) or step.get("type") not in AI_TYPES:
            continue
        for number, name in enumerate(step.get("tools") or []):
            if name not in BUILTIN_TOOLS:
                yield str(step.get("id")), f"tools[{number}]", "tool", str(name)
        for number, name in enumerate(step.get("knowledge_bases") or []):
            yield str(step.get("id")), f"knowledge_bases[{number}]", "knowledge base", str(name)


def calls_the_model(data: Mapping[str, Any]) -> bool:
    """Whether a definition runs an AI conversation or has AI steps."""
    graph = data.get("menu_structure") or {}
    if is_ai_conversation(graph, data.get("guidelines")):
        return True
    steps = graph.get("steps") or []
    return any(isinstance(s, Mapping) and s.get("type") in AI_TYPES for s in steps)


def unchecked_names(data: Mapping[str, Any]) -> list[str]:
    """The tools and knowledge bases a definition names (for ``convoflow validate``, which
    works offline and cannot tell whether they exist)."""
    return sorted({f"{kind} {name!r}" for _, _, kind, name in _uses(data)})


async def resource_problems(
    db_session: AsyncSession, owner_id: str, data: Mapping[str, Any]
) -> list[Problem]:
    """Tools and knowledge bases the owner has not, or the workflow type does not allow."""
    uses = list(_uses(data))
    if not uses:
        return []
    tools = set(await db_session.scalars(select(LlmTool.name).where(LlmTool.owner_id == owner_id)))
    bases = set(
        await db_session.scalars(
            select(KnowledgeBase.name).where(KnowledgeBase.owner_id == owner_id)
        )
    )
    workflow_type = str(data.get("workflow_type") or "plain")
    problems = []
    for step, path, kind, name in uses:
        if kind == "tool":
            known, allowed, needs = name in tools, workflow_type in TOOL_WORKFLOWS, "tools or full"
        else:
            known, allowed, needs = (
                name in bases,
                workflow_type in KNOWLEDGE_WORKFLOWS,
                "rag or full",
            )
        if not known:
            problems.append(Problem(step, path, f"no {kind} named {name!r}"))
        elif not allowed:
            message = f"workflow_type {workflow_type!r} allows no {kind}s (use {needs})"
            problems.append(Problem(step, path, message))
    return problems
