"""Pytest fixtures for the stand-in Graph API.

Use from a conftest: ``from tests.support.graph_fixtures import graph_stub``, or list
``"tests.support.graph_fixtures"`` in the root conftest's ``pytest_plugins``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.graph_stub import GraphStub


@pytest.fixture
def graph_stub() -> Iterator[GraphStub]:
    """A started :class:`GraphStub` on a free loopback port, stopped after the test."""
    with GraphStub() as stub:
        yield stub
