"""Turning a posted template document into a checked definition for the repository.

Accepted documents (DESIGN §2–3):

* a template definition whose ``menu_structure`` is a graph in any of the three formats
  (native, Flow Runner, a single WhatsApp interactive message);
* a graph at the top level next to the template fields, e.g. a whole Flow Runner flow
  ``{"name", "status", "triggers", "steps"}``.

Every problem of the document is reported at once, each naming its step and field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from convoflow.engine import Problem, TemplateInvalid, load_template, to_native
from convoflow.engine.ai_template import LlmParams, ai_conversation_graph, llm_params_of
from convoflow.engine.importers import detect_format
from convoflow.errors import InvalidData
from convoflow.services.templates.dependency_specs import dependency_problems, end_action_problems
from convoflow.services.templates.fields import (
    NATIVE_GRAPH_KEYS,
    TEMPLATE_KEYS,
    fold_name_alias,
    unknown_field_problems,
)
from convoflow.services.templates.limits import size_problems
from convoflow.services.templates.problem_paths import locate_graph_problems
from convoflow.store.models import WorkflowTemplate
from convoflow.store.templates import DEFINITION_FIELDS, normalise_definition

#: Where the original Flow Runner steps are kept, so the flow is served back unchanged.
FLOW_RUNNER_STEPS = "flow_runner_steps"
_INTERACTIVE_TYPES = {"buttons": "button", "list": "list"}


def definition_of(row: WorkflowTemplate) -> dict[str, Any]:
    """The stored definition of a template version (a fresh copy)."""
    fields = {field: getattr(row, field) for field in DEFINITION_FIELDS}
    fields["template_name"] = row.template_name
    return copy.deepcopy(fields)


def document_of(row: WorkflowTemplate) -> dict[str, Any]:
    """A template version as the document ``PUT /api/workflow-templates/{id}`` takes."""
    definition = definition_of(row)
    return {"template_name": definition.pop("template_name"), **definition}


def _flow_runner_fields(flow: Mapping[str, Any]) -> dict[str, Any]:
    """Template fields a Flow Runner flow carries: name, triggers, status."""
    fields: dict[str, Any] = {}
    if flow.get("name"):
        fields["template_name"] = flow["name"]
    if isinstance(flow.get("triggers"), list):
        fields["trigger_keywords"] = flow["triggers"]
    if "status" in flow:
        fields["is_active"] = str(flow["status"]).upper() == "ACTIVE"
    return fields


@dataclass(frozen=True, slots=True)
class _Parts:
    """A document taken apart: template fields and the graph (None: keep the current one).

    ``graph_path`` is where the graph was in the document (``""``: at the top level), so
    problems in it can be named by their path in the request.
    """

    fields: dict[str, Any]
    graph: dict[str, Any] | None = None
    original_steps: Any = None
    graph_path: str = "menu_structure"


def _split(document: Mapping[str, Any], has_current: bool) -> _Parts:
    """Take a document apart; raise :class:`TemplateInvalid` naming every misplaced field.

    A native body may hold only template fields (and a top-level native graph): any other
    key is refused. Flow Runner and interactive bodies keep every other key in the graph.
    """
    fields = {key: value for key, value in document.items() if key in TEMPLATE_KEYS}
    problems = fold_name_alias(fields)
    graph_path = "menu_structure"
    if "menu_structure" in document and document["menu_structure"] is None:
        # No graph: an AI template (its guidelines drive the conversation).
        problems += unknown_field_problems(document, TEMPLATE_KEYS)
        if problems:
            raise TemplateInvalid(problems)
        fields.pop("menu_structure", None)
        return _Parts(fields, {})
    if "menu_structure" in document:
        graph_document = document["menu_structure"]
        problems += unknown_field_problems(document, TEMPLATE_KEYS)
        if not isinstance(graph_document, Mapping):
            problems.append(Problem("", "menu_structure", "must be an object"))
    elif "steps" in document or "action" in document or document.get("type") == "interactive":
        graph_path = ""
        graph_document = {k: v for k, v in document.items() if k not in TEMPLATE_KEYS}
        if "name" in document:
            graph_document["name"] = document["name"]
        if detect_format(graph_document) == "native":
            problems += unknown_field_problems(document, TEMPLATE_KEYS | NATIVE_GRAPH_KEYS)
    else:
        problems += unknown_field_problems(document, TEMPLATE_KEYS)
        if not has_current and str(document.get("guidelines") or "").strip():
            if problems:
                raise TemplateInvalid(problems)
            return _Parts(fields, {})  # guidelines and no graph: an AI template
        if not has_current:
            message = "required: the step graph (native, Flow Runner or interactive format)"
            problems.append(Problem("", "menu_structure", message))
        if problems:
            raise TemplateInvalid(problems)
        return _Parts(fields)
    if problems:
        raise TemplateInvalid(problems)
    try:
        graph, detected = to_native(graph_document)
    except TemplateInvalid as invalid:
        raise TemplateInvalid(locate_graph_problems(invalid.problems, graph_path)) from None
    fields.pop("menu_structure", None)
    original_steps = None
    if detected == "flow_runner":
        fields = {**_flow_runner_fields(graph_document), **fields}
        original_steps = copy.deepcopy(graph_document.get("steps"))
    elif detected == "interactive" and "template_type" not in fields:
        first = graph["steps"][0]
        fields["template_type"] = _INTERACTIVE_TYPES.get(str(first.get("type")), "flow")
    return _Parts(fields, graph, original_steps, graph_path)


def prepare_definition(
    document: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Convert, normalise and check a document; raise :class:`TemplateInvalid` with every problem.

    ``current`` is the stored definition a PUT starts from: fields the document leaves out
    keep their current values (the graph too, when no graph is given). Each problem names
    its field by its path in ``document``.
    """
    data, graph_path = merge_definition(document, current=current)
    check_definition(data, changelog=document.get("changelog"), graph_path=graph_path)
    return data


def merge_definition(
    document: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """Convert and normalise a document over ``current``, without checking the graph.

    Returns the definition and where the document held its graph (the path its problems
    are named under). Raises :class:`TemplateInvalid` only when the document cannot be
    read as a template at all (an unknown field, no graph, a bad template field).
    """
    parts = _split(document, current is not None)
    merged: dict[str, Any] = {**(current or {}), **parts.fields}
    if parts.graph is not None:
        merged["menu_structure"] = parts.graph
        metadata = dict(merged.get("extra_metadata") or {})
        metadata.pop(FLOW_RUNNER_STEPS, None)
        if parts.original_steps is not None:
            metadata[FLOW_RUNNER_STEPS] = parts.original_steps
        merged["extra_metadata"] = metadata
    try:
        return normalise_definition(merged), parts.graph_path
    except InvalidData as exc:
        # The name may have come as `name`, its alias: point at what was sent.
        sent_alias = exc.field == "template_name" and "template_name" not in document
        field = "name" if sent_alias and "name" in document else exc.field
        raise TemplateInvalid([Problem("", field, exc.message)]) from None


def check_definition(
    data: Mapping[str, Any], *, changelog: str | None = None, graph_path: str = "menu_structure"
) -> None:
    """Check a normalised definition: sizes, graph, state schema, dependencies, end action.

    ``graph_path`` is where the client sent the graph, so its problems are named there.
    """
    graph = data["menu_structure"]
    problems = size_problems(data, changelog=changelog)
    if not graph.get("steps"):
        if not str(data.get("guidelines") or "").strip():
            message = "required: the step graph, or guidelines for an AI template"
            raise TemplateInvalid([*problems, Problem("", "menu_structure", message)])
        graph = ai_template_graph(data)
    try:
        load_template(
            graph,
            name=data["template_name"],
            state_schema=data["state_schema"],
            default_params=data["default_params"],
            end_action_type=data["end_action_type"],
            end_action_target=data["end_action_target"],
        )
    except TemplateInvalid as invalid:
        problems += locate_graph_problems(invalid.problems, graph_path)
    steps = graph.get("steps") if isinstance(graph, Mapping) else None
    step_ids = {str(step.get("id")) for step in steps or [] if isinstance(step, Mapping)}
    problems += dependency_problems(data["workflow_dependencies"], step_ids)
    problems += end_action_problems(data["end_action_type"])
    if problems:
        raise TemplateInvalid(problems)


def ai_template_graph(data: Mapping[str, Any]) -> dict[str, Any]:
    """The one-step graph an AI template (guidelines, no graph) runs as, for checking it."""
    try:
        llm = LlmParams.model_validate(llm_params_of(data["default_params"]))
    except ValidationError:
        llm = LlmParams()  # the template check names the problems of default_params.llm
    return ai_conversation_graph(
        state_schema=data["state_schema"],
        llm=llm,
        workflow_type=data["workflow_type"],
        required_tools=data["required_tools"],
        required_retrievers=data["required_retrievers"],
    )


REDACTED = "[redacted]"


def redact_secrets(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without header values (API keys, tokens) of the end action and dependencies.

    Used when someone other than the owner reads or forks a public template.
    """
    redacted = copy.deepcopy(dict(definition))
    target = redacted.get("end_action_target")
    if isinstance(target, dict) and isinstance(target.get("headers"), dict):
        target["headers"] = dict.fromkeys(target["headers"], REDACTED)
    for dependency in redacted.get("workflow_dependencies") or []:
        if isinstance(dependency, dict) and isinstance(dependency.get("headers"), dict):
            dependency["headers"] = dict.fromkeys(dependency["headers"], REDACTED)
    return redacted
