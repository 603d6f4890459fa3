"""Reading template documents (JSON or YAML, any of the three formats) and checking them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from convoflow.engine import TemplateInvalid, load_template, to_native
from convoflow.engine.ai_template import is_ai_conversation
from convoflow.errors import RequestError
from convoflow.services.ai.resources import calls_the_model, unchecked_names
from convoflow.services.templates.documents import ai_template_graph

NEEDS_PROVIDER = "needs CONVOFLOW_LLM_BASE_URL and CONVOFLOW_LLM_MODEL to run"


class TemplateFileError(RequestError):
    """The file cannot be read as a template document."""


@dataclass(slots=True)
class FileReport:
    """The result of checking one template file."""

    ok: bool
    summary: str = ""
    problems: list[str] = field(default_factory=list)


def read_document(path: str | Path) -> dict[str, Any]:
    """Parse a JSON or YAML file into a dict."""
    file = Path(path)
    try:
        raw = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateFileError(f"{file}: cannot read ({exc.strerror})") from None
    try:
        document = json.loads(raw) if file.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise TemplateFileError(
            f"{file}: not valid {file.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise TemplateFileError(f"{file}: the document must be an object")
    return document


def split_definition(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Separate a document into template fields and the native step graph.

    A document with ``menu_structure`` is a full template definition; anything else is a
    step graph in one of the three formats (native, Flow Runner, single interactive).
    """
    if is_ai_conversation(document.get("menu_structure"), document.get("guidelines")):
        fields = {key: value for key, value in document.items() if key != "menu_structure"}
        data = {
            "state_schema": dict(fields.get("state_schema") or {}),
            "default_params": dict(fields.get("default_params") or {}),
            "workflow_type": fields.get("workflow_type") or "plain",
            "required_tools": list(fields.get("required_tools") or []),
            "required_retrievers": list(fields.get("required_retrievers") or []),
        }
        return fields, ai_template_graph(data), "ai"
    if "menu_structure" in document:
        fields = {key: value for key, value in document.items() if key != "menu_structure"}
        graph, detected = to_native(document["menu_structure"])
    else:
        graph, detected = to_native(document)
        fields = {}
        if detected == "flow_runner":
            fields["template_name"] = document.get("name")
            fields["trigger_keywords"] = list(document.get("triggers") or [])
            fields["is_active"] = str(document.get("status", "ACTIVE")).upper() == "ACTIVE"
    return fields, graph, detected


def check_template_file(path: str | Path) -> FileReport:
    """Validate a template file; every problem names the step and field."""
    try:
        document = read_document(path)
        fields, graph, detected = split_definition(document)
    except (TemplateFileError, TemplateInvalid, ValueError) as exc:
        return FileReport(ok=False, problems=_problems_of(exc))
    name = str(fields.get("template_name") or fields.get("name") or Path(path).stem)
    try:
        template = load_template(
            graph,
            name=name,
            state_schema=fields.get("state_schema") or {},
            default_params=fields.get("default_params") or {},
            end_action_type=fields.get("end_action_type"),
            end_action_target=fields.get("end_action_target"),
        )
    except TemplateInvalid as exc:
        return FileReport(ok=False, problems=_problems_of(exc))
    triggers = ", ".join(fields.get("trigger_keywords") or []) or "none"
    kind = "an AI template" if detected == "ai" else f"{detected} format"
    summary = (
        f"{name}: {kind}, {len(template.steps)} steps, start {template.start!r}, "
        f"triggers {triggers}"
    )
    definition = {**fields, "menu_structure": {} if detected == "ai" else graph}
    if calls_the_model(definition):
        summary += f"; calls the model: {NEEDS_PROVIDER}"
        unchecked = unchecked_names(definition)
        if unchecked:
            summary += f"; not checked offline: {', '.join(unchecked)}"
    return FileReport(ok=True, summary=summary)


def _problems_of(exc: Exception) -> list[str]:
    if isinstance(exc, TemplateInvalid):
        return [str(problem) for problem in exc.problems]
    return [str(exc)]
