"""One error tree: everything convoflow raises on purpose is a ConvoflowError."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import convoflow
from convoflow import errors
from convoflow.errors import (
    Conflict,
    ConversationBusy,
    ConvoflowError,
    Forbidden,
    InvalidArgument,
    InvalidData,
    InvalidStateData,
    NotFound,
    RequestError,
    ServiceUnavailable,
    SettingsError,
    Unauthenticated,
)

SOURCE = Path(convoflow.__file__).parent


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (InvalidData("name", "too long"), 422),
        (InvalidStateData({"amount": "not a number"}), 422),
        (Forbidden("x"), 403),
        (Unauthenticated("x"), 401),
    ],
)
def test_request_errors_carry_their_http_status(error: RequestError, status: int) -> None:
    assert isinstance(error, RequestError) and isinstance(error, ConvoflowError)
    assert error.http_status == status


def test_invalid_data_names_its_field() -> None:
    error = InvalidData("trigger_keywords[1]", "must not be empty")
    assert error.field == "trigger_keywords[1]"
    assert str(error) == "trigger_keywords[1]: must not be empty"


def test_busy_conversation_is_a_timeout_and_a_service_error() -> None:
    busy = ConversationBusy("locked")
    assert isinstance(busy, TimeoutError) and isinstance(busy, ServiceUnavailable)
    assert isinstance(InvalidArgument("x"), ValueError)
    assert issubclass(SettingsError, ConvoflowError)


def _raised_names(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            function = node.exc.func
            if isinstance(function, ast.Name):
                names.append(function.id)
            elif isinstance(function, ast.Attribute):
                names.append(function.attr)
    return names


def test_nothing_outside_the_engine_raises_a_builtin_exception() -> None:
    """The engine keeps its own tree; everywhere else raises ConvoflowError subclasses."""
    builtin_errors = {
        name
        for name, value in vars(__import__("builtins")).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    offenders = []
    for path in SOURCE.rglob("*.py"):
        if "engine" in path.relative_to(SOURCE).parts or "migrations" in path.parts:
            continue
        for name in _raised_names(ast.parse(path.read_text(), str(path))):
            if name in builtin_errors and name not in {"NotImplementedError"}:
                offenders.append(f"{path.relative_to(SOURCE)}: {name}")
    assert offenders == []
    assert errors.__all__  # the tree is exported from one module
