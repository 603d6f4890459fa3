"""Doing things on the builder's canvas the way a person does: drag, connect, select."""

from __future__ import annotations

from typing import Any


def node(page: Any, step_id: str) -> Any:
    """The canvas node of a step."""
    return page.get_by_test_id(f"node-{step_id}")


def drop_step(page: Any, step_type: str, x: int, y: int) -> None:
    """Drag a step type from the palette onto the canvas at (x, y) inside it."""
    page.locator(f'.palette [data-step-type="{step_type}"]').drag_to(
        page.locator(".canvas"), target_position={"x": x, "y": y}
    )


def _center(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Any, source: str, handle: str, target: str) -> None:
    """Drag from an exit handle of ``source`` to the entry handle of ``target``."""
    start = node(page, source).locator(f'[data-handle="{handle}"]').bounding_box()
    end = node(page, target).locator(".handle-in").bounding_box()
    assert start and end
    page.mouse.move(*_center(start))
    page.mouse.down()
    page.mouse.move(*_center(end), steps=12)
    page.mouse.up()


def select(page: Any, step_id: str) -> None:
    """Click a node's header to select it (its form opens in the Step tab)."""
    node(page, step_id).locator("header").click()
    page.get_by_role("heading", name=step_id).wait_for()
