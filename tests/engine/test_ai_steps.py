"""AI steps and AI templates in the pure engine: model turns are effects, results are events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from convoflow.engine import (
    ChoiceReceived,
    EffectResult,
    EndAction,
    FlowStatus,
    Outcome,
    Release,
    Start,
    Template,
    TextReceived,
    advance,
    load_template,
)
from convoflow.engine.outcome import LlmTurn
from convoflow.engine.problems import TemplateInvalid

NOW = datetime(2025, 1, 1, tzinfo=UTC)

LOAN = Template.from_parts(
    name="loan_application",
    menu_structure={},
    guidelines="Guide the applicant. Ask for the amount and the purpose.",
    state_schema={
        "amount": {"type": "number", "required": True, "min": 100},
        "purpose": {"type": "string", "required": True},
    },
    end_action_type="api_call",
    end_action_target={"endpoint": "https://lender.example/applications", "method": "POST"},
    default_params={"llm": {"fallback_text": "Sorry, try later.", "max_turns": 4}},
)


def turn_of(outcome: Outcome) -> LlmTurn:
    [effect] = outcome.effects
    assert isinstance(effect, LlmTurn)
    assert outcome.status is FlowStatus.WAITING_EFFECT
    assert outcome.state is not None and outcome.state.waiting_effect == effect.effect_id
    return effect


def answer(asked: Outcome, **data: Any) -> EffectResult:
    return EffectResult(turn_of(asked).effect_id, ok=True, data={"outcome": "ok", **data})


def texts(outcome: Outcome) -> list[str]:
    found = []
    for message in outcome.messages:
        body = message.body
        if body["type"] == "text":
            found.append(body["text"]["body"])
        else:
            found.append(body["interactive"]["body"]["text"])
    return found


def test_the_trigger_message_gets_a_model_turn_with_guidelines_fields_and_transcript() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)

    turn = turn_of(started)
    assert turn.mode == "ai_reply" and turn.step_id == "assistant"
    assert turn.guidelines.startswith("Guide the applicant")
    assert turn.fields["amount"] == {"type": "number", "min": 100, "required": True}
    assert turn.transcript == [{"role": "user", "content": "loan"}]
    assert turn.llm["fallback_text"] == "Sorry, try later."
    assert started.variables == {}  # the model settings are no flow variable


def test_slot_filling_summary_confirm_completes_with_the_end_action() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    greeted = advance(LOAN, started.state, answer(started, text="Hi! How much?"), NOW)
    assert texts(greeted) == ["Hi! How much?"]
    assert greeted.status is FlowStatus.WAITING_INPUT

    asked = advance(LOAN, greeted.state, TextReceived("30000 for a car"), NOW)
    assert turn_of(asked).transcript[-2:] == [
        {"role": "assistant", "content": "Hi! How much?"},
        {"role": "user", "content": "30000 for a car"},
    ]
    # An invalid value handed back is never stored (the engine checks again).
    filled = advance(
        LOAN,
        asked.state,
        answer(asked, fields={"amount": 30000, "purpose": "car", "bogus": 1}, finished=True),
        NOW,
    )
    assert filled.variables == {"amount": 30000, "purpose": "car"}
    [summary] = filled.messages
    buttons = summary.body["interactive"]["action"]["buttons"]
    assert [b["reply"]["id"] for b in buttons] == ["confirm", "change"]
    assert "Amount: 30000" in texts(filled)[0] and "Purpose: car" in texts(filled)[0]

    done = advance(LOAN, filled.state, ChoiceReceived("confirm", "Confirm"), NOW)
    assert done.status is FlowStatus.COMPLETED
    [end] = done.effects
    assert isinstance(end, EndAction) and end.state_data == {"amount": 30000, "purpose": "car"}


def test_change_or_typed_text_at_the_summary_goes_back_to_the_model() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    filled = advance(
        LOAN,
        started.state,
        answer(started, fields={"amount": 500, "purpose": "car"}, finished=True),
        NOW,
    )
    changed = advance(LOAN, filled.state, ChoiceReceived("change", "Change"), NOW)
    assert turn_of(changed).transcript[-1] == {
        "role": "user",
        "content": "I want to change something.",
    }
    corrected = advance(LOAN, filled.state, TextReceived("make that 40,000"), NOW)
    assert turn_of(corrected).transcript[-1]["content"] == "make that 40,000"
    overwritten = advance(
        LOAN, corrected.state, answer(corrected, fields={"amount": "40,000"}, finished=True), NOW
    )
    assert overwritten.variables["amount"] == 40000


def test_finish_with_fields_missing_waits_for_the_customer() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    half = advance(
        LOAN, started.state, answer(started, fields={"amount": 5}, finished=True, text="?"), NOW
    )
    assert half.status is FlowStatus.WAITING_INPUT and "amount" not in half.variables


def test_messages_during_a_turn_are_held_and_go_to_the_model_next() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    held = advance(LOAN, started.state, TextReceived("I need"), NOW)
    held = advance(LOAN, held.state, TextReceived("2000"), NOW)
    assert held.messages == [] and held.effects == []
    assert held.state is not None and held.state.ai is not None
    assert held.state.ai["pending"] == ["I need", "2000"]

    answered = advance(LOAN, held.state, answer(started, text="Hello!"), NOW)
    assert texts(answered) == ["Hello!"]
    assert [e["content"] for e in turn_of(answered).transcript] == [
        "loan",
        "Hello!",
        "I need",
        "2000",
    ]


def test_reply_choices_become_buttons_or_a_list() -> None:
    started = advance(LOAN, None, Start(), NOW)
    three = advance(LOAN, started.state, answer(started, text="Pick", choices=["A", "B", "C"]), NOW)
    assert three.messages[0].body["interactive"]["type"] == "button"
    four = advance(
        LOAN, started.state, answer(started, text="Pick", choices=["A", "B", "C", "D"]), NOW
    )
    assert four.messages[0].body["interactive"]["type"] == "list"


def test_long_answers_are_split_within_the_text_limit() -> None:
    started = advance(LOAN, None, Start(), NOW)
    long = ("A sentence of words. " * 400).strip()
    split = advance(LOAN, started.state, answer(started, text=long), NOW)
    assert len(split.messages) == 3
    assert all(len(text) <= 4096 for text in texts(split))
    assert " ".join(texts(split)) == long


def test_handoff_waits_silently_for_a_person_until_released() -> None:
    started = advance(LOAN, None, Start(), NOW)
    handed = advance(
        LOAN, started.state, answer(started, handoff="wants a human", text="One moment"), NOW
    )
    assert handed.status is FlowStatus.HANDOFF and handed.handoff_reason == "wants a human"
    assert texts(handed) == ["One moment"]
    silent = advance(LOAN, handed.state, TextReceived("hello?"), NOW)
    assert silent.status is FlowStatus.HANDOFF and silent.messages == [] and not silent.effects
    released = advance(LOAN, silent.state, Release(), NOW)
    assert released.status is FlowStatus.WAITING_INPUT
    again = advance(LOAN, released.state, TextReceived("back"), NOW)
    assert [e["content"] for e in turn_of(again).transcript][-2:] == ["hello?", "back"]


def test_model_failure_says_the_fallback_and_keeps_the_conversation() -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    failed = advance(
        LOAN, started.state, EffectResult(turn_of(started).effect_id, ok=False, error="x"), NOW
    )
    assert texts(failed) == ["Sorry, try later."]
    assert failed.status is FlowStatus.WAITING_INPUT
    assert failed.state is not None and failed.state.ai is not None
    assert failed.state.ai["transcript"] == [{"role": "user", "content": "loan"}]


@pytest.mark.parametrize("kind", ["limit", "unavailable"])
def test_limits_and_no_provider_give_the_fallback_and_a_handoff(kind: str) -> None:
    started = advance(LOAN, None, Start(text="loan"), NOW)
    stopped = advance(
        LOAN, started.state, answer(started, outcome=kind, error="daily cost cap reached"), NOW
    )
    assert texts(stopped) == ["Sorry, try later."]
    assert stopped.status is FlowStatus.HANDOFF
    assert stopped.handoff_reason == "daily cost cap reached"


def test_max_turns_used_up_hands_over() -> None:
    state = advance(LOAN, None, Start(), NOW)
    for _ in range(3):
        state = advance(LOAN, state.state, answer(state, text="?"), NOW)
        state = advance(LOAN, state.state, TextReceived("hm"), NOW)
    assert turn_of(state)  # the fourth turn
    answered = advance(LOAN, state.state, answer(state, text="?"), NOW)
    out = advance(LOAN, answered.state, TextReceived("hm"), NOW)
    assert out.status is FlowStatus.HANDOFF and out.effects == []
    assert out.handoff_reason is not None and "max_turns" in out.handoff_reason


GRAPH = {
    "start": "ask",
    "steps": [
        {"id": "ask", "type": "message", "text": "How can we help?", "next": "sort"},
        {
            "id": "sort",
            "type": "ai_classify",
            "categories": [
                {"id": "billing", "description": "Invoices and payments", "next": "bill"},
                {"id": "order", "description": "Orders", "next": "extract"},
            ],
            "other": "chat",
            "on_failure": "human",
            "max_turns": 2,
        },
        {"id": "bill", "type": "end", "text": "Billing it is."},
        {
            "id": "extract",
            "type": "ai_extract",
            "fields": {"order_no": {"type": "integer"}},
            "next": "found",
            "on_failure": "human",
        },
        {"id": "found", "type": "end", "text": "Order {{order_no}}."},
        {"id": "chat", "type": "ai_reply", "next": "bye", "on_handoff": "human"},
        {"id": "bye", "type": "end", "text": "Bye."},
        {"id": "human", "type": "handoff", "text": "A person will answer.", "next": "bye"},
    ],
}


@pytest.fixture
def graph() -> Template:
    return load_template(GRAPH, name="support", default_params={}, state_schema={}).model_copy(
        update={"guidelines": "Be kind."}
    )


def test_classify_waits_for_the_customer_then_takes_the_category(graph: Template) -> None:
    started = advance(graph, None, Start(), NOW)
    assert started.status is FlowStatus.WAITING_INPUT and started.effects == []
    asked = advance(graph, started.state, TextReceived("my invoice is wrong"), NOW)
    turn = turn_of(asked)
    assert turn.mode == "ai_classify" and turn.guidelines == "Be kind."
    assert [c["id"] for c in turn.categories] == ["billing", "order"]
    billed = advance(graph, asked.state, answer(asked, category="billing"), NOW)
    assert billed.status is FlowStatus.COMPLETED and texts(billed) == ["Billing it is."]
    assert billed.variables["sort"] == "billing"
    other = advance(graph, asked.state, answer(asked, category="other"), NOW)
    assert turn_of(other).mode == "ai_reply" and other.variables["sort"] == "other"


def test_classify_without_a_category_after_max_turns_takes_on_failure(graph: Template) -> None:
    state = advance(graph, None, Start(), NOW)
    state = advance(graph, state.state, TextReceived("hmm"), NOW)
    state = advance(graph, state.state, answer(state, text="Can you say more?"), NOW)
    state = advance(graph, state.state, TextReceived("well"), NOW)
    state = advance(graph, state.state, answer(state, text="Sorry?"), NOW)
    failed = advance(graph, state.state, TextReceived("dunno"), NOW)
    assert failed.status is FlowStatus.HANDOFF and texts(failed) == ["A person will answer."]


def test_extract_goes_on_once_its_fields_are_valid(graph: Template) -> None:
    state = advance(graph, None, Start(), NOW)
    state = advance(graph, state.state, TextReceived("where is my order"), NOW)
    state = advance(graph, state.state, answer(state, category="order"), NOW)
    assert turn_of(state).mode == "ai_extract"
    bad = advance(graph, state.state, answer(state, fields={"order_no": "x1"}, text="Number?"), NOW)
    assert bad.status is FlowStatus.WAITING_INPUT and "order_no" not in bad.variables
    good = advance(graph, state.state, answer(state, fields={"order_no": "123"}), NOW)
    assert good.status is FlowStatus.COMPLETED and texts(good) == ["Order 123."]


def test_reply_handoff_goes_to_on_handoff(graph: Template) -> None:
    state = advance(graph, None, Start(), NOW)
    state = advance(graph, state.state, TextReceived("hello"), NOW)
    state = advance(graph, state.state, answer(state, category="other"), NOW)
    handed = advance(graph, state.state, answer(state, handoff="angry"), NOW)
    assert texts(handed) == ["A person will answer."]
    assert handed.variables["handoff_reason"] == "angry"


def test_ai_steps_are_validated_like_other_steps() -> None:
    bad = {
        "start": "c",
        "steps": [
            {"id": "c", "type": "ai_classify", "categories": [{"id": "other"}], "max_turns": 0},
        ],
    }
    with pytest.raises(TemplateInvalid) as invalid:
        load_template(bad)
    fields = {problem.field for problem in invalid.value.problems}
    assert "max_turns" in fields and "categories[0].id" in fields


def test_bad_llm_settings_are_named_by_their_path() -> None:
    with pytest.raises(TemplateInvalid) as invalid:
        Template.from_parts(
            name="x",
            menu_structure={},
            guidelines="Hi",
            default_params={"llm": {"temperature": 5, "colour": "red"}},
        )
    assert {p.field for p in invalid.value.problems} == {
        "default_params.llm.temperature",
        "default_params.llm.colour",
    }
