"""The three input formats of a template graph, converted to the native one (DESIGN §3).

* ``native``: ``{"start", "steps": [...]}`` (JSON or YAML);
* ``flow_runner``: ``{"name", "status", "triggers", "steps": [{"type": "MessageAction", ...}]}``
  with ImageMessage, VideoMessage, AudioMessage, DocumentMessage, TemplateMessage and
  ConnectFlowAction; :func:`to_flow_runner` exports back so that import → export → import
  gives the same native graph (native-only steps such as ``ask`` pass through unchanged).
  Canvas positions are kept, and steps without one get one (:mod:`.layout`);
* ``interactive``: one WhatsApp interactive message (``button`` or ``list``), imported as a
  one-step menu whose options end the flow.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .layout import with_positions
from .problems import Problem, TemplateInvalid

FLOW_RUNNER_MEDIA = {
    "ImageMessage": "image",
    "VideoMessage": "video",
    "AudioMessage": "audio",
    "DocumentMessage": "document",
}
MEDIA_FLOW_RUNNER = {kind: name for name, kind in FLOW_RUNNER_MEDIA.items()}
FLOW_RUNNER_TYPES = frozenset(
    {"MessageAction", "TemplateMessage", "ConnectFlowAction", *FLOW_RUNNER_MEDIA}
)
_SLUG_NOISE = re.compile(r"[^a-z0-9]+")


def _unrecognised(message: str) -> TemplateInvalid:
    return TemplateInvalid([Problem("", "", message)])


def parse_document(text: str) -> dict[str, Any]:
    """Read a JSON or YAML document into a dict (raises :class:`TemplateInvalid`)."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise _unrecognised(f"not valid JSON or YAML: {exc}") from None
    if not isinstance(data, dict):
        raise _unrecognised("a template must be a JSON or YAML object")
    return data


def detect_format(document: Mapping[str, Any]) -> str:
    """Name the format of a graph document: native, flow_runner or interactive."""
    kind = document.get("type")
    if kind == "interactive" or (kind in {"button", "list"} and "action" in document):
        return "interactive"
    steps = document.get("steps")
    if not isinstance(steps, list):
        raise _unrecognised(
            "unrecognised template format: expected {start, steps}, a Flow Runner flow "
            "or a WhatsApp interactive message"
        )
    uses_flow_runner_types = any(
        isinstance(step, Mapping) and step.get("type") in FLOW_RUNNER_TYPES for step in steps
    )
    looks_like_flow = "start" not in document and ("triggers" in document or "status" in document)
    return "flow_runner" if uses_flow_runner_types or looks_like_flow else "native"


def to_native(document: Mapping[str, Any] | str) -> tuple[dict[str, Any], str]:
    """Convert a document in any accepted format to the native graph: (graph, format name)."""
    data = parse_document(document) if isinstance(document, str) else document
    if not isinstance(data, Mapping):
        raise _unrecognised("a template must be a JSON or YAML object")
    found = detect_format(data)
    if found == "interactive":
        return _from_interactive(data), found
    if found == "flow_runner":
        return _from_flow_runner(data), found
    return copy.deepcopy(dict(data)), found


# -- Flow Runner ------------------------------------------------------------------------


def _slug(label: str) -> str:
    return _SLUG_NOISE.sub("_", label.casefold()).strip("_")[:60]


def _button_ids(buttons: list[Any]) -> list[dict[str, Any]]:
    """Give every Flow Runner button an id (kept if given, else from its label, unique)."""
    used: set[str] = set()
    converted = []
    for index, button in enumerate(buttons):
        item = dict(button) if isinstance(button, Mapping) else {"label": str(button)}
        if not item.get("id"):
            base = _slug(str(item.get("label", ""))) or f"option_{index + 1}"
            candidate, suffix = base, 2
            while candidate in used:
                candidate, suffix = f"{base}_{suffix}", suffix + 1
            item = {"id": candidate, **item}
        used.add(str(item["id"]))
        converted.append(item)
    return converted


def _is_link(file: str) -> bool:
    return file.startswith(("http://", "https://", "{{"))


def _step_from_flow_runner(raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    step = {key: value for key, value in raw.items() if value is not None}
    step["id"] = str(step.get("id", f"step_{index + 1}"))
    kind = step.get("type")
    if kind == "MessageAction":
        step["text"] = step.pop("message", "")
        if step.get("buttons"):
            step["type"] = "buttons"
            step["buttons"] = _button_ids(step["buttons"])
        else:
            step["type"] = "message"
            step.pop("buttons", None)
    elif kind in FLOW_RUNNER_MEDIA:
        step["type"] = FLOW_RUNNER_MEDIA[kind]
        file = step.pop("file", None)
        if isinstance(file, str):
            step["url" if _is_link(file) else "media_id"] = file
        if "message" in step:
            step["caption"] = step.pop("message")
    elif kind == "TemplateMessage":
        step["type"] = "template"
        step["name"] = step.pop("template", step.get("name"))
        language = step.get("language")
        if isinstance(language, Mapping):
            step["language"] = language.get("code")
    elif kind == "ConnectFlowAction":
        step["type"] = "connect"
        step["template"] = step.pop("flow", None) or step.pop("flow_name", None)
    return {key: value for key, value in step.items() if value is not None}


def _from_flow_runner(document: Mapping[str, Any]) -> dict[str, Any]:
    raw_steps = document.get("steps") or []
    steps = [
        _step_from_flow_runner(raw, index) if isinstance(raw, Mapping) else raw
        for index, raw in enumerate(raw_steps)
    ]
    graph: dict[str, Any] = {
        key: copy.deepcopy(value)
        for key, value in document.items()
        if key not in {"name", "status", "triggers", "steps", "start"}
    }
    first = steps[0]["id"] if steps and isinstance(steps[0], Mapping) else None
    start = document.get("start", first)
    # The builder opens a flow where its steps are: steps without a position get one.
    steps = with_positions(steps, start)
    return {"start": start, "steps": steps, **graph} if start is not None else {"steps": steps}


def _step_to_flow_runner(step: Mapping[str, Any]) -> dict[str, Any]:
    kind = step.get("type")
    exported = dict(copy.deepcopy(step))
    if kind in {"message", "buttons"}:
        exported["type"] = "MessageAction"
        exported["message"] = exported.pop("text", "")
    elif kind in MEDIA_FLOW_RUNNER:
        exported["type"] = MEDIA_FLOW_RUNNER[str(kind)]
        if "url" in exported:
            exported["file"] = exported.pop("url")
        if "caption" in exported:
            exported["message"] = exported.pop("caption")
    elif kind == "template":
        exported["type"] = "TemplateMessage"
        exported["template"] = exported.pop("name", None)
    elif kind == "connect":
        exported["type"] = "ConnectFlowAction"
        exported["flow"] = exported.pop("template", None)
    return exported


def to_flow_runner(
    name: str,
    graph: Mapping[str, Any],
    triggers: Iterable[str] = (),
    status: str = "active",
) -> dict[str, Any]:
    """Export a native graph in the Flow Runner format (served by ``/api/whatsapp/flow``)."""
    steps = [
        _step_to_flow_runner(step) if isinstance(step, Mapping) else step
        for step in graph.get("steps") or []
    ]
    flow: dict[str, Any] = {"name": name, "status": status, "triggers": list(triggers)}
    first = steps[0].get("id") if steps and isinstance(steps[0], Mapping) else None
    if graph.get("start") != first:
        flow["start"] = graph.get("start")
    flow.update({k: copy.deepcopy(v) for k, v in graph.items() if k not in {"start", "steps"}})
    flow["steps"] = steps
    return flow


# -- a single interactive message -------------------------------------------------------


def _text_of(part: Any) -> str | None:
    return str(part["text"]) if isinstance(part, Mapping) and part.get("text") else None


def _from_interactive(document: Mapping[str, Any]) -> dict[str, Any]:
    message = document.get("interactive") if document.get("type") == "interactive" else document
    if not isinstance(message, Mapping) or not isinstance(message.get("action"), Mapping):
        raise _unrecognised("an interactive message needs an action")
    action = message["action"]
    step: dict[str, Any] = {"id": "menu", "text": _text_of(message.get("body")) or ""}
    header = message.get("header")
    if isinstance(header, Mapping) and header.get("type", "text") == "text" and _text_of(header):
        step["header"] = _text_of(header)
    if _text_of(message.get("footer")):
        step["footer"] = _text_of(message.get("footer"))
    if message.get("type") == "list":
        step.update(type="list", button=action.get("button", ""), sections=action.get("sections"))
    else:
        buttons = [
            {"id": reply.get("id"), "label": reply.get("title")}
            for item in action.get("buttons") or []
            if isinstance(item, Mapping) and isinstance(reply := item.get("reply"), Mapping)
        ]
        step.update(type="buttons", buttons=buttons)
    return {"start": "menu", "steps": [copy.deepcopy(step)]}
