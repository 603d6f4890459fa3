"""Property tests: for random valid templates and random events, advance() behaves."""

import copy
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.engine import (
    ConversationState,
    EffectResult,
    Event,
    FlowStatus,
    Outcome,
    Template,
    Timeout,
    advance,
    validate_template,
)

from .helpers import CONTACT, NOW, limit_violations
from .strategies import EFFECT, TIMER, event_lists, valid_templates

OVER = {FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.CANCELLED}


def effect_for(item: tuple[Any, ...], state: ConversationState | None) -> EffectResult:
    _, ok, data, matches = item
    waiting = state.waiting_effect if state is not None else None
    return EffectResult(waiting if matches and waiting else "stale#0", ok=ok, data=data)


def timeout_for(item: tuple[Any, ...], state: ConversationState | None) -> Timeout:
    _, matches = item
    timer = state.timer if state is not None else None
    return Timeout(timer.id if matches and timer is not None else "stale@0")


def event_for(item: Any, state: ConversationState | None) -> Event:
    if isinstance(item, tuple) and item[0] == EFFECT:
        return effect_for(item, state)
    if isinstance(item, tuple) and item[0] == TIMER:
        return timeout_for(item, state)
    return item


def check_timer(template: Template, outcome: Outcome, now: datetime) -> None:
    """A timer belongs to the step the state waits at, and only to a step with a timeout."""
    state = outcome.state
    if state is None or state.timer is None:
        return
    step = template.step(state.current_step)
    assert state.timer.step_id == state.current_step
    assert getattr(step, "on_timeout", None) is not None
    if outcome.status is FlowStatus.WAITING_INPUT and outcome.visited_steps:
        assert state.timer.due_at > now, "a step just reached waits its whole timeout"


def check(template: Template, state: ConversationState | None, outcome: Outcome) -> None:
    assert not outcome.error.startswith("internal error"), outcome.error
    for message in outcome.messages:
        assert limit_violations(message.body) == [], message.body
    if outcome.connect_to is not None:
        assert outcome.status is FlowStatus.COMPLETED
        assert outcome.state is not None
    elif outcome.status in OVER:
        assert outcome.state is None
    else:
        assert outcome.state is not None
        assert template.step(outcome.state.current_step) is not None
        waiting_effect = outcome.status is FlowStatus.WAITING_EFFECT
        assert (outcome.state.waiting_effect is not None) == waiting_effect


def play(template: Template, items: list[Any]) -> list[Outcome]:
    state: ConversationState | None = None
    outcomes = []
    for number, item in enumerate(items):
        event = event_for(item, state)
        now = NOW + timedelta(minutes=20 * number)  # long enough for some timers to run out
        before = copy.deepcopy(state)
        outcome = advance(template, state, event, now, contact=CONTACT)
        assert state == before, "advance modified its input state"
        check(template, state, outcome)
        check_timer(template, outcome, now)
        outcomes.append(outcome)
        state = None if outcome.connect_to else outcome.state
    return outcomes


@settings(max_examples=150, deadline=None)
@given(template=valid_templates(), items=event_lists)
def test_random_conversations_never_raise_stay_within_limits_and_are_deterministic(
    template: Template, items: list[Any]
) -> None:
    assert validate_template(template) == []
    assert play(template, items) == play(template, items)


@settings(max_examples=60, deadline=None)
@given(
    items=event_lists,
    name=st.sampled_from(["main_menu", "new_order", "support", "account", "loan_application"]),
)
def test_random_conversations_on_builtin_templates(
    builtin_templates: dict[str, Template], items: list[Any], name: str
) -> None:
    template = builtin_templates[name]
    assert play(template, items) == play(template, items)
