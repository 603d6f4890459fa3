"""Step timers in the engine: a waiting step's timeout, armed from `now`, fired by Timeout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from convoflow.engine import (
    ChoiceReceived,
    ConversationState,
    EffectResult,
    FlowStatus,
    HttpCall,
    Release,
    Start,
    TextReceived,
    Timeout,
    Timer,
    advance,
    load_template,
    to_flow_runner,
    to_native,
    validate_template,
)
from convoflow.engine.durations import duration_seconds

from .helpers import CONTACT, NOW, build, said

THIRTY_MINUTES = timedelta(minutes=30)


def reminder_steps(**question: Any) -> list[dict[str, Any]]:
    """A question that reminds once after 30 minutes, then closes the case on the second."""
    return [
        {
            "id": "name",
            "type": "ask",
            "field": "name",
            "prompt": "What is your name?",
            "timeout": "30m",
            "on_timeout": "reminder",
            "next": "thanks",
            **question,
        },
        {"id": "reminder", "type": "message", "text": "Still there?", "next": "again"},
        {
            "id": "again",
            "type": "ask",
            "field": "name",
            "prompt": "Your name, please?",
            "timeout": 3600,
            "on_timeout": "closed",
            "next": "thanks",
        },
        {
            "id": "closed",
            "type": "end",
            "text": "No answer, so I've closed this.",
            "end_action": False,
        },
        {"id": "thanks", "type": "end", "text": "Thanks {{name}}!"},
    ]


def started(steps: list[dict[str, Any]]) -> tuple[Any, ConversationState]:
    template = build(steps)
    outcome = advance(template, None, Start(), NOW, contact=CONTACT)
    assert outcome.state is not None
    return template, outcome.state


# -- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(90, 90), (1.5, 1.5), ("30s", 30), ("30m", 1800), ("2h", 7200), ("1d", 86400), (" 5 m ", 300)],
)
def test_durations_are_seconds_or_a_number_with_a_unit(written: Any, seconds: float) -> None:
    assert duration_seconds(written) == seconds


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("soon", "'soon' is not a duration"),
        ("30", "'30' is not a duration"),
        ("1w", "'1w' is not a duration"),
        ("-5m", "'-5m' is not a duration"),
        (True, "expected a number of seconds"),
        ([30], "expected a number of seconds"),
        (float("inf"), "expected a number of seconds"),
        (0, "at least 1 second"),
        ("31d", "at most 30 days"),
    ],
)
def test_bad_durations_say_what_is_expected(written: Any, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        duration_seconds(written)


# -- validation --------------------------------------------------------------------------


def problems_of(steps: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    graph = {"start": steps[0]["id"], "steps": steps}
    return [(p.step, p.field, p.message) for p in validate_template(graph)]


def test_a_question_with_a_timeout_and_a_reminder_is_valid() -> None:
    assert problems_of(reminder_steps()) == []


def test_a_step_reached_only_on_timeout_is_reachable() -> None:
    problems = problems_of(reminder_steps())
    assert not any("unreachable" in message for _, _, message in problems)


def test_a_bad_duration_is_reported_on_its_step_and_field() -> None:
    [(step, field, message)] = problems_of(reminder_steps(timeout="half an hour"))
    assert (step, field) == ("name", "timeout")
    assert message.startswith("'half an hour' is not a duration")


def test_a_timeout_without_on_timeout_is_reported() -> None:
    steps = reminder_steps()
    del steps[0]["on_timeout"]
    problems = problems_of([steps[0], steps[4]])
    assert problems == [
        (
            "name",
            "on_timeout",
            "required when timeout is set: the step to go to when no answer comes",
        )
    ]


def test_an_on_timeout_without_timeout_is_reported() -> None:
    steps = reminder_steps()
    del steps[0]["timeout"]
    [(step, field, message)] = problems_of(steps)
    assert (step, field) == ("name", "timeout")
    assert message.startswith("required when on_timeout is set")


def test_an_on_timeout_naming_a_missing_step_is_reported() -> None:
    problems = problems_of(reminder_steps(on_timeout="nudge"))
    assert ("name", "on_timeout", "points to unknown step 'nudge'") in problems


@pytest.mark.parametrize("kind", ["buttons", "list", "collect", "handoff"])
def test_every_step_that_waits_for_a_person_takes_a_timer(kind: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "buttons": {"text": "Pick", "buttons": [{"id": "a", "label": "A", "next": "done"}]},
        "list": {
            "text": "Pick",
            "button": "Open",
            "sections": [{"rows": [{"id": "a", "title": "A", "next": "done"}]}],
        },
        "collect": {"next": "done"},
        "handoff": {"next": "done"},
    }
    steps = [
        {"id": "wait", "type": kind, "timeout": "2h", "on_timeout": "gone", **bodies[kind]},
        {"id": "gone", "type": "end", "text": "Closed."},
        {"id": "done", "type": "end"},
    ]
    template = load_template(
        {"start": "wait", "steps": steps}, state_schema={"email": {"type": "email"}}
    )
    assert template.compiled.timeouts == {"wait": 7200}


def test_steps_that_do_not_wait_for_a_person_refuse_on_timeout() -> None:
    steps = [
        {"id": "hello", "type": "message", "text": "Hi", "timeout": 60, "on_timeout": "bye"},
        {"id": "call", "type": "http", "url": "https://api.example.com", "on_timeout": "bye"},
        {"id": "bye", "type": "end"},
    ]
    problems = problems_of(steps)
    assert ("hello", "timeout", "unknown field") in problems
    assert ("hello", "on_timeout", "unknown field") in problems
    assert ("call", "on_timeout", "unknown field") in problems


def test_http_timeout_keeps_meaning_the_request_timeout() -> None:
    steps = [
        {"id": "call", "type": "http", "url": "https://api.example.com", "timeout": 30},
    ]
    template = build(steps)
    outcome = advance(template, None, Start(), NOW)
    [call] = outcome.effects
    assert isinstance(call, HttpCall) and call.timeout_seconds == 30
    assert outcome.state is not None and outcome.state.timer is None
    assert problems_of([{**steps[0], "timeout": "30m"}])[0][:2] == ("call", "timeout")


# -- arming ------------------------------------------------------------------------------


def test_reaching_a_step_with_a_timeout_arms_a_timer_due_from_now() -> None:
    _, state = started(reminder_steps())
    assert state.timer == Timer("name", NOW + THIRTY_MINUTES)
    assert state.timer.id == f"name@{(NOW + THIRTY_MINUTES).isoformat()}"


def test_a_step_without_timeout_arms_no_timer() -> None:
    steps = reminder_steps()
    del steps[0]["timeout"], steps[0]["on_timeout"]
    _, state = started([steps[0], steps[4]])
    assert state.timer is None


def test_the_timer_is_stored_with_the_state() -> None:
    _, state = started(reminder_steps())
    assert ConversationState.from_json(state.to_json()) == state
    assert state.to_json()["timer"] == {
        "step_id": "name",
        "due_at": (NOW + THIRTY_MINUTES).isoformat(),
    }


# -- firing ------------------------------------------------------------------------------


def test_a_due_timeout_goes_to_on_timeout_and_sends_what_it_sends() -> None:
    template, state = started(reminder_steps())
    assert state.timer is not None
    later = NOW + timedelta(minutes=31)
    outcome = advance(template, state, Timeout(state.timer.id), later, contact=CONTACT)
    assert said(outcome) == ["Still there?", "Your name, please?"]
    assert outcome.visited_steps == ["reminder", "again"]
    assert outcome.status is FlowStatus.WAITING_INPUT
    assert outcome.state is not None
    assert outcome.state.timer == Timer("again", later + timedelta(hours=1))


def test_a_second_timeout_closes_the_case() -> None:
    template, state = started(reminder_steps())
    assert state.timer is not None
    reminded = advance(template, state, Timeout(state.timer.id), state.timer.due_at).state
    assert reminded is not None and reminded.timer is not None
    closed = advance(template, reminded, Timeout(reminded.timer.id), reminded.timer.due_at)
    assert said(closed) == ["No answer, so I've closed this."]
    assert (closed.status, closed.state, closed.effects) == (FlowStatus.COMPLETED, None, [])


def test_a_timeout_before_its_due_time_changes_nothing() -> None:
    template, state = started(reminder_steps())
    assert state.timer is not None
    early = NOW + timedelta(minutes=29)
    outcome = advance(template, state, Timeout(state.timer.id), early)
    assert (outcome.messages, outcome.visited_steps) == ([], [])
    assert outcome.state == state


@pytest.mark.parametrize(
    "stale_id",
    [
        "name@2020-01-01T00:00:00+00:00",  # an earlier arming of the same step
        f"again@{(NOW + THIRTY_MINUTES).isoformat()}",  # another step
        "",
    ],
)
def test_a_timeout_for_another_timer_changes_nothing(stale_id: str) -> None:
    template, state = started(reminder_steps())
    outcome = advance(template, state, Timeout(stale_id), NOW + timedelta(days=1))
    assert (outcome.messages, outcome.state) == ([], state)
    assert outcome.error == "stale timer"


def test_a_timeout_without_a_conversation_does_nothing() -> None:
    template = build(reminder_steps())
    outcome = advance(template, None, Timeout("name@x"), NOW)
    assert (outcome.status, outcome.state, outcome.messages) == (FlowStatus.FAILED, None, [])


def test_a_timer_left_on_a_state_that_moved_on_is_stale() -> None:
    template, state = started(reminder_steps())
    assert state.timer is not None
    moved = ConversationState(
        state.template_name, "again", state.variables, history=state.history, timer=state.timer
    )
    outcome = advance(template, moved, Timeout(state.timer.id), NOW + timedelta(hours=2))
    assert (outcome.messages, outcome.state) == ([], moved)


# -- answers before the timeout ------------------------------------------------------------


def test_an_answer_before_the_timeout_clears_the_timer() -> None:
    template, state = started(reminder_steps())
    assert state.timer is not None
    answered = advance(template, state, TextReceived("Ana"), NOW + timedelta(minutes=5))
    assert said(answered) == ["Thanks Ana!"]
    assert answered.state is None
    late = advance(template, answered.state, Timeout(state.timer.id), NOW + timedelta(hours=1))
    assert late.messages == []


def test_an_answer_leading_to_another_timed_step_replaces_the_timer() -> None:
    steps = [
        {
            "id": "menu",
            "type": "buttons",
            "text": "Pick",
            "buttons": [{"id": "more", "label": "More", "next": "email"}],
            "timeout": "1h",
            "on_timeout": "bye",
        },
        {
            "id": "email",
            "type": "ask",
            "field": "email",
            "input": "email",
            "prompt": "Email?",
            "timeout": "10m",
            "on_timeout": "bye",
            "next": "bye",
        },
        {"id": "bye", "type": "end", "text": "Bye."},
    ]
    template, state = started(steps)
    assert state.timer is not None
    first_id = state.timer.id
    at = NOW + timedelta(minutes=7)
    outcome = advance(template, state, ChoiceReceived("more"), at)
    assert outcome.state is not None
    assert outcome.state.timer == Timer("email", at + timedelta(minutes=10))
    stale = advance(template, outcome.state, Timeout(first_id), NOW + timedelta(hours=2))
    assert (stale.messages, stale.state) == ([], outcome.state)


def test_an_invalid_answer_restarts_the_timeout() -> None:
    template, state = started(reminder_steps(input="email"))
    at = NOW + timedelta(minutes=20)
    outcome = advance(template, state, TextReceived("not an email"), at)
    assert outcome.input_rejected and outcome.state is not None
    assert outcome.state.timer == Timer("name", at + THIRTY_MINUTES)


def test_each_collected_field_restarts_the_timeout() -> None:
    steps = [
        {"id": "details", "type": "collect", "timeout": "15m", "on_timeout": "bye", "next": "bye"},
        {"id": "bye", "type": "end", "text": "Bye {{full_name}}."},
    ]
    template = load_template(
        {"start": "details", "steps": steps},
        state_schema={"full_name": {"type": "string"}, "email": {"type": "email"}},
    )
    state = advance(template, None, Start(), NOW).state
    assert state is not None and state.timer == Timer("details", NOW + timedelta(minutes=15))
    at = NOW + timedelta(minutes=10)
    outcome = advance(template, state, TextReceived("Ana Silva"), at)
    assert said(outcome) == ["Please enter your email."]
    assert outcome.state is not None
    assert outcome.state.timer == Timer("details", at + timedelta(minutes=15))


def test_stray_events_keep_the_timer_as_it_was() -> None:
    template, state = started(reminder_steps())
    for event in (Release(), EffectResult("x#1", ok=True)):
        outcome = advance(template, state, event, NOW + timedelta(minutes=10))
        assert outcome.state == state


# -- handoff -------------------------------------------------------------------------------


HANDOFF_STEPS: list[dict[str, Any]] = [
    {"id": "human", "type": "handoff", "timeout": "4h", "on_timeout": "nobody", "next": "back"},
    {"id": "nobody", "type": "end", "text": "Sorry, nobody could answer today."},
    {"id": "back", "type": "end", "text": "The bot is back."},
]


def test_a_handoff_nobody_released_in_time_moves_on() -> None:
    template, state = started(HANDOFF_STEPS)
    assert state.timer == Timer("human", NOW + timedelta(hours=4))
    while_waiting = advance(template, state, TextReceived("hello?"), NOW + timedelta(hours=1))
    assert while_waiting.state == state  # the customer writing does not restart it
    outcome = advance(template, state, Timeout(state.timer.id), NOW + timedelta(hours=4))
    assert said(outcome) == ["Sorry, nobody could answer today."]


def test_a_released_handoff_forgets_its_timer() -> None:
    template, state = started(HANDOFF_STEPS)
    released = advance(template, state, Release(), NOW + timedelta(hours=1))
    assert said(released) == ["The bot is back."] and released.state is None


# -- formats -------------------------------------------------------------------------------


def test_timers_survive_the_flow_runner_round_trip() -> None:
    flow = {
        "name": "survey",
        "triggers": ["survey"],
        "steps": [
            {
                "id": "ask",
                "type": "MessageAction",
                "message": "Did we help?",
                "buttons": [{"label": "Yes", "next": "thanks"}],
                "timeout": "1d",
                "on_timeout": "thanks",
            },
            {"id": "thanks", "type": "MessageAction", "message": "Thanks!"},
        ],
    }
    graph, _ = to_native(flow)
    assert graph["steps"][0]["timeout"] == "1d"
    template = load_template(graph)
    assert template.compiled.timeouts == {"ask": 86400}
    exported = to_flow_runner("survey", template.to_graph())
    assert exported["steps"][0]["timeout"] == "1d"
    assert exported["steps"][0]["on_timeout"] == "thanks"
    assert to_native(exported)[0] == template.to_graph()
