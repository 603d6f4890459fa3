"""Admin-declared HTTP tools (``/api/tools``): checking a call's arguments and making it.

Arguments are checked against the tool's JSON-schema ``parameters`` (the subset that tool
parameters use: ``type``, ``properties``, ``required``, ``enum``, ``items``,
``additionalProperties: false``); invalid ones go back to the model as an error. The call
renders ``{{argument}}`` placeholders in the URL and header values, sends the arguments as
the JSON body (as the query string for GET and DELETE), and is retried with backoff on a
transport error, 408, 429 or 5xx (``retries`` more times), within the tool's timeout per
attempt. Its answer (status and body, cut to :data:`RESULT_LIMIT` characters) goes back to
the model; a failed call is an error result, never a crashed turn.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx

from convoflow.engine.render import render
from convoflow.store.models import LlmTool

RESULT_LIMIT = 4000
_RETRY_STATUSES = frozenset({408, 425, 429})
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def schema_problems(schema: Mapping[str, Any], value: Any, path: str = "") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty when it fits)."""
    where = path or "arguments"
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        fits = isinstance(value, _TYPES[kind]) and not (
            kind in {"number", "integer"} and isinstance(value, bool)
        )
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            fits = True
        if not fits:
            return [f"{where}: expected {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: must be one of {schema['enum']}"]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                problems.append(f"{path + '.' if path else ''}{name}: required")
        for name, item in value.items():
            child = f"{path}.{name}" if path else str(name)
            if name in properties:
                problems += schema_problems(properties[name], item, child)
            elif schema.get("additionalProperties") is False:
                problems.append(f"{child}: unknown argument")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for number, item in enumerate(value):
            problems += schema_problems(schema["items"], item, f"{where}[{number}]")
    return problems


async def call_tool(
    http: httpx.AsyncClient, tool: LlmTool, arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """Make the tool's HTTP call; the result the model gets back."""
    variables = {str(key): value for key, value in arguments.items()}
    url = render(tool.url, variables, {})
    headers = {str(k): render(str(v), variables, {}) for k, v in (tool.headers or {}).items()}
    method = tool.method.upper()
    options: dict[str, Any] = {"headers": headers}
    if method in {"GET", "DELETE"}:
        options["params"] = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in variables.items()
            if "{{" + key + "}}" not in tool.url
        }
    else:
        options["json"] = dict(arguments)
    attempts = max(1, tool.retries + 1)
    error = ""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
        try:
            response = await http.request(method, url, timeout=tool.timeout_seconds, **options)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return {"error": f"the tool's URL is not usable: {exc}"}
        except httpx.HTTPError as exc:
            error = f"the tool did not answer: {type(exc).__name__}"
            continue
        if response.status_code in _RETRY_STATUSES or response.status_code >= 500:
            error = f"the tool answered HTTP {response.status_code}"
            continue
        return {"status": response.status_code, "body": _body(response)}
    return {"error": error}


def _body(response: httpx.Response) -> Any:
    text = response.text[:RESULT_LIMIT]
    try:
        return response.json() if len(response.text) <= RESULT_LIMIT else text
    except ValueError:
        return text
