"""Engine throughput: advance() steps per second on the built-in templates.

Drives scripted conversations (every built-in template, to completion, following
``connect`` hops) in a loop for a few seconds on one core, and compares with a floor
measured in the same run: a loop that only builds the same outcomes (message dicts,
states, outcome objects) without deciding anything.

    python bench/engine.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from convoflow.builtin import load_builtin_templates
from convoflow.engine import (
    ChoiceReceived,
    ConversationState,
    Event,
    OutboundMessage,
    Outcome,
    Release,
    Start,
    Template,
    TextReceived,
    advance,
    load_template,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CONTACT = {"name": "Ana", "phone": "447700900123"}

SCRIPTS: list[tuple[str, list[Event]]] = [
    (
        "main_menu",
        [
            ChoiceReceived("new_order", "New order"),
            TextReceived("latte"),
            TextReceived("2"),
            ChoiceReceived("confirm", "Confirm"),
        ],
    ),
    (
        "new_order",
        [
            TextReceived("3"),
            TextReceived("25"),
            TextReceived("4"),
            TextReceived("change"),
            ChoiceReceived("muffin"),
            TextReceived("1"),
            TextReceived("Confirm"),
        ],
    ),
    (
        "support",
        [
            TextReceived("Opening hours"),
            TextReceived("Another question"),
            ChoiceReceived("agent"),
            TextReceived("hello?"),
            Release(),
        ],
    ),
    (
        "account",
        [TextReceived("Update email"), TextReceived("nope"), TextReceived("ana@example.com")],
    ),
    ("account", [ChoiceReceived("loyalty_card")]),
    (
        "loan_application",
        [
            TextReceived("50"),
            TextReceived("2,500"),
            TextReceived("New roof"),
            TextReceived("Start over"),
            TextReceived("3000"),
            TextReceived("Car"),
            ChoiceReceived("submit"),
        ],
    ),
]


def converse(
    templates: dict[str, Template], name: str, events: list[Event]
) -> tuple[int, list[Outcome]]:
    """One scripted conversation; returns (steps run, outcomes)."""
    template, state, steps, outcomes = templates[name], None, 0, []
    for event in [Start(), *events]:
        outcome = advance(template, state, event, NOW, contact=CONTACT)
        steps += len(outcome.visited_steps)
        if outcome.connect_to:
            template = templates[outcome.connect_to]
            carried = outcome.state.variables if outcome.state else {}
            outcome = advance(template, None, Start(carried), NOW, contact=CONTACT)
            steps += len(outcome.visited_steps)
        outcomes.append(outcome)
        state = outcome.state
    return steps, outcomes


def _rebuild(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _rebuild(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rebuild(item) for item in value]
    return value


def floor_loop(recorded: list[list[Outcome]]) -> Callable[[], None]:
    """Build the same outcomes again, without the engine: the unavoidable output work."""

    def run() -> None:
        for outcomes in recorded:
            for outcome in outcomes:
                messages = [OutboundMessage(_rebuild(m.body), m.step_id) for m in outcome.messages]
                state = outcome.state
                new_state = None
                if state is not None:
                    new_state = ConversationState(
                        state.template_name,
                        state.current_step,
                        dict(state.variables),
                        state.retries,
                        state.waiting_effect,
                        list(state.history),
                    )
                Outcome(
                    outcome.status,
                    new_state,
                    messages,
                    list(outcome.effects),
                    list(outcome.visited_steps),
                )

    return run


def timed(work: Callable[[], int], seconds: float) -> tuple[int, int, float]:
    """Repeat ``work`` for about ``seconds``: (rounds, units of work, elapsed)."""
    rounds = units = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        units += work()
        rounds += 1
    return rounds, units, time.perf_counter() - start


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = parser.parse_args().seconds

    templates = {doc["template_name"]: load_template(doc) for doc in load_builtin_templates()}
    recorded = [converse(templates, name, events)[1] for name, events in SCRIPTS]
    advances_per_round = sum(len(outcomes) for outcomes in recorded)

    def engine_round() -> int:
        return sum(converse(templates, name, events)[0] for name, events in SCRIPTS)

    floor = floor_loop(recorded)

    def floor_round() -> int:
        floor()
        return 0

    engine_round()  # warm caches
    rounds, steps, elapsed = timed(engine_round, seconds)
    floor_rounds, _, floor_elapsed = timed(floor_round, seconds)
    per_round = elapsed / rounds
    floor_per_round = floor_elapsed / floor_rounds

    print(f"python     {sys.version.split()[0]} ({platform.python_implementation()})")
    print(f"platform   {platform.platform()}")
    print(f"cpu        {cpu_name()}")
    print(f"scripts    {len(SCRIPTS)} conversations, {advances_per_round} advances per round")
    print(
        f"engine     {steps / elapsed:,.0f} steps/s, {rounds * advances_per_round / elapsed:,.0f} "
        f"advances/s ({per_round * 1e6:,.1f} µs per round)"
    )
    print(f"floor      {floor_per_round * 1e6:,.1f} µs per round (building the same outcomes only)")
    print(f"ratio      engine takes {per_round / floor_per_round:.1f}x the floor")


if __name__ == "__main__":
    main()
