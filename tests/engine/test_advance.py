"""The conversation rules of advance(): starting, choosing, re-asking, cancelling, resuming."""

import copy
from typing import Any

from convoflow.engine import (
    ChoiceReceived,
    ConversationState,
    EffectResult,
    FlowStatus,
    LocationReceived,
    MediaReceived,
    Release,
    Start,
    Template,
    TemplateInvalid,
    TextReceived,
    Timeout,
    accepts,
    advance,
)

from .helpers import CONTACT, NOW, build, drive, said

MENU_STEPS: list[dict[str, Any]] = [
    {
        "id": "welcome",
        "type": "buttons",
        "text": "Hi {{contact.name}}! What do you need?",
        "buttons": [
            {"id": "order", "label": "New order", "next": "pick"},
            {"id": "help", "label": "Support", "next": "bye"},
        ],
    },
    {
        "id": "pick",
        "type": "list",
        "text": "Pick a product",
        "button": "Products",
        "save_as": "product",
        "sections": [
            {
                "title": "Drinks",
                "rows": [
                    {"id": "coffee", "title": "Coffee", "next": "qty"},
                    {"id": "tea", "title": "Tea", "next": "qty"},
                ],
            }
        ],
    },
    {
        "id": "qty",
        "type": "ask",
        "field": "quantity",
        "prompt": "How many?",
        "input": "integer",
        "min": 1,
        "max": 20,
        "next": "done",
    },
    {"id": "done", "type": "end", "text": "Thanks! {{quantity}} x {{product_label}} coming."},
    {"id": "bye", "type": "end", "text": "Bye"},
]


def menu(**settings: Any) -> Template:
    return build(MENU_STEPS, graph_settings=settings)


def test_start_sends_the_first_menu_as_reply_buttons() -> None:
    (outcome,) = drive(menu(), [Start()])
    assert outcome.status is FlowStatus.WAITING_INPUT
    interactive = outcome.messages[0].body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == "Hi Ana! What do you need?"


def test_start_variables_overlay_the_templates_default_params() -> None:
    template = build(
        [{"id": "q", "type": "ask", "field": "x", "prompt": "{{a}} {{b}}"}],
        default_params={"a": "default-a", "b": "default-b"},
    )
    (outcome,) = drive(template, [Start({"b": "given-b"})])
    assert said(outcome) == ["default-a given-b"]


def test_whole_order_by_taps_and_typing() -> None:
    outcomes = drive(
        menu(),
        [Start(), ChoiceReceived("order", "New order"), TextReceived("coffee"), TextReceived("3")],
    )
    assert said(outcomes[-1]) == ["Thanks! 3 x Coffee coming."]
    assert outcomes[-1].status is FlowStatus.COMPLETED


def test_typed_label_and_option_number_choose_too() -> None:
    by_label = drive(menu(), [Start(), TextReceived("  new ORDER ")])[-1]
    by_number = drive(menu(), [Start(), TextReceived("1"), TextReceived("2")])[-1]
    assert by_label.state.current_step == "pick"
    assert by_number.state.variables["product"] == "tea"


def test_choice_id_and_label_are_stored_under_step_id_or_save_as() -> None:
    state = drive(menu(), [Start(), TextReceived("1"), ChoiceReceived("tea")])[-1].state
    assert state.variables == {
        "welcome": "order",
        "welcome_label": "New order",
        "product": "tea",
        "product_label": "Tea",
    }


def test_unmatched_reply_re_prompts_with_an_error_first() -> None:
    template = menu()
    outcome = drive(template, [Start(), TextReceived("pizza")])[-1]
    assert outcome.input_rejected
    assert outcome.state.retries == 1
    assert said(outcome) == [template.texts.invalid_choice, "Hi Ana! What do you need?"]
    assert outcome.visited_steps == []


def test_a_valid_answer_resets_the_retry_count() -> None:
    outcome = drive(menu(), [Start(), TextReceived("pizza"), TextReceived("1")])[-1]
    assert outcome.state.retries == 0


def test_after_max_retries_the_flow_fails_politely() -> None:
    template = menu(max_retries=2)
    outcomes = drive(template, [Start()] + [TextReceived("pizza")] * 3)
    assert [o.status for o in outcomes[1:]] == [FlowStatus.WAITING_INPUT] * 2 + [FlowStatus.FAILED]
    assert outcomes[-1].state is None
    assert said(outcomes[-1]) == [template.texts.failed]


def test_step_max_retries_overrides_the_template_default() -> None:
    steps = copy.deepcopy(MENU_STEPS)
    steps[0]["max_retries"] = 0
    outcome = drive(build(steps), [Start(), TextReceived("pizza")])[-1]
    assert outcome.status is FlowStatus.FAILED


def test_invalid_typed_answer_re_asks_with_the_reason() -> None:
    outcome = drive(menu(), [Start(), TextReceived("1"), TextReceived("1"), TextReceived("50")])[-1]
    assert said(outcome) == ["Please send a whole number between 1 and 20.", "How many?"]
    assert outcome.input_rejected


def test_media_or_location_where_text_is_expected_is_rejected() -> None:
    template = menu()
    for event in (MediaReceived("image", "m1"), LocationReceived(1.0, 2.0)):
        outcome = drive(template, [Start(), TextReceived("1"), TextReceived("1"), event])[-1]
        assert outcome.input_rejected
        assert said(outcome)[0] == template.texts.text_expected


def test_cancel_or_stop_ends_the_conversation_at_any_wait() -> None:
    template = menu()
    for prefix in ([], [TextReceived("1")], [TextReceived("1"), TextReceived("1")]):
        outcome = drive(template, [Start(), *prefix, TextReceived(" STOP ")])[-1]
        assert outcome.status is FlowStatus.CANCELLED
        assert outcome.state is None
        assert said(outcome) == [template.texts.cancelled]


def test_an_option_called_stop_wins_over_the_cancel_keyword() -> None:
    template = build(
        [
            {
                "id": "m",
                "type": "buttons",
                "text": "?",
                "buttons": [{"id": "stop", "label": "Stop", "next": "e"}],
            },
            {"id": "e", "type": "end", "text": "Stopped the subscription."},
        ]
    )
    assert said(drive(template, [Start(), TextReceived("stop")])[-1]) == [
        "Stopped the subscription."
    ]


def test_four_to_ten_buttons_are_sent_and_matched_as_a_list() -> None:
    buttons = [{"id": f"b{i}", "label": f"Choice {i}", "next": "e"} for i in range(5)]
    template = build(
        [
            {"id": "m", "type": "buttons", "text": "?", "button": "Choose", "buttons": buttons},
            {"id": "e", "type": "end", "text": "{{m_label}}"},
        ]
    )
    first, chosen = drive(template, [Start(), ChoiceReceived("b3", "Choice 3")])
    assert first.messages[0].body["interactive"]["type"] == "list"
    assert said(chosen) == ["Choice 3"]


def test_choice_asks_are_sent_as_buttons_and_booleans_as_yes_no() -> None:
    template = build(
        [
            {
                "id": "c",
                "type": "ask",
                "field": "size",
                "prompt": "Size?",
                "input": "choice",
                "options": ["S", "M", "L"],
                "next": "b",
            },
            {
                "id": "b",
                "type": "ask",
                "field": "gift",
                "prompt": "Gift wrap?",
                "input": "boolean",
                "next": "e",
            },
            {"id": "e", "type": "end", "text": "{{size}} {{gift}}"},
        ]
    )
    first, second, last = drive(
        template, [Start(), ChoiceReceived("M"), ChoiceReceived("yes", "Yes")]
    )
    assert first.messages[0].body["interactive"]["type"] == "button"
    titles = [
        b["reply"]["title"] for b in second.messages[0].body["interactive"]["action"]["buttons"]
    ]
    assert titles == ["Yes", "No"]
    assert said(last) == ["M yes"]


def test_stop_typed_at_a_text_question_cancels_rather_than_answers() -> None:
    template = build(
        [
            {"id": "q", "type": "ask", "field": "name", "prompt": "Name?", "next": "e"},
            {"id": "e", "type": "end"},
        ]
    )
    assert drive(template, [Start(), TextReceived("cancel")])[-1].status is FlowStatus.CANCELLED


def test_any_message_without_a_conversation_starts_the_template() -> None:
    outcome = advance(menu(), None, TextReceived("hello"), NOW, contact=CONTACT)
    assert outcome.state.current_step == "welcome"


def test_effect_result_release_or_timeout_without_a_conversation_do_nothing() -> None:
    for event in (
        EffectResult("x#1", ok=True),
        Release(),
        Timeout("welcome@2025-01-01T12:00:00+00:00"),
    ):
        outcome = advance(menu(), None, event, NOW)
        assert (outcome.status, outcome.state, outcome.messages) == (FlowStatus.FAILED, None, [])


def test_timeouts_and_stray_events_leave_a_waiting_step_unchanged() -> None:
    first = drive(menu(), [Start()])[0]
    for event in (
        Timeout("welcome@2025-01-01T12:00:00+00:00"),
        Release(),
        EffectResult("x", ok=True),
    ):
        outcome = advance(menu(), first.state, event, NOW)
        assert outcome.status is FlowStatus.WAITING_INPUT
        assert outcome.state == first.state
        assert outcome.messages == []


def test_state_at_a_step_that_no_longer_exists_restarts_keeping_variables() -> None:
    stale = ConversationState("test", "removed_step", variables={"quantity": 2})
    outcome = advance(menu(), stale, TextReceived("1"), NOW, contact=CONTACT)
    assert outcome.status is FlowStatus.WAITING_INPUT
    assert outcome.state.current_step == "welcome"
    assert outcome.state.variables == {"quantity": 2}
    assert "restarted" in outcome.error


def test_state_at_a_step_that_no_longer_waits_restarts() -> None:
    stale = ConversationState("test", "done")
    assert advance(menu(), stale, TextReceived("1"), NOW).state.current_step == "welcome"


def test_start_replaces_a_running_conversation() -> None:
    running = drive(menu(), [Start(), TextReceived("1")])[-1].state
    outcome = advance(menu(), running, Start(), NOW)
    assert outcome.state.current_step == "welcome"
    assert outcome.state.history == ["welcome"]


def test_the_input_state_is_never_modified() -> None:
    state = drive(menu(), [Start(), TextReceived("1")])[-1].state
    snapshot = copy.deepcopy(state)
    advance(menu(), state, ChoiceReceived("tea"), NOW)
    advance(menu(), state, TextReceived("pizza"), NOW)
    assert state == snapshot


def test_same_inputs_give_the_same_outcome() -> None:
    state = drive(menu(), [Start()])[-1].state
    assert advance(menu(), state, TextReceived("1"), NOW) == advance(
        menu(), state, TextReceived("1"), NOW
    )


def http_wait() -> tuple[Template, ConversationState]:
    template = build(
        [
            {"id": "call", "type": "http", "url": "https://x", "save_as": "r", "next": "e"},
            {"id": "e", "type": "end", "text": "{{r}}"},
        ]
    )
    return template, drive(template, [Start()])[0].state


def test_effect_result_with_another_id_is_ignored() -> None:
    template, state = http_wait()
    outcome = advance(template, state, EffectResult("stale#0", ok=True, data="x"), NOW)
    assert outcome.status is FlowStatus.WAITING_EFFECT
    assert outcome.state.waiting_effect == state.waiting_effect


def test_customer_writing_while_an_effect_runs_is_told_to_wait() -> None:
    template, state = http_wait()
    outcome = advance(template, state, TextReceived("hello?"), NOW)
    assert outcome.status is FlowStatus.WAITING_EFFECT
    assert said(outcome) == [template.texts.busy]
    assert advance(template, state, TextReceived("stop"), NOW).status is FlowStatus.CANCELLED


def test_accepts_tells_whether_the_waiting_step_takes_the_input() -> None:
    template = menu()
    state = drive(template, [Start()])[0].state
    assert accepts(template, state, TextReceived("support"))
    assert accepts(template, state, TextReceived("2"))
    assert accepts(template, state, ChoiceReceived("order"))
    assert accepts(template, state, TextReceived("stop"))
    assert not accepts(template, state, TextReceived("loan"))
    assert not accepts(template, None, TextReceived("support"))
    asking = drive(template, [Start(), TextReceived("1"), TextReceived("1")])[-1].state
    assert accepts(template, asking, TextReceived("3"))
    assert not accepts(template, asking, TextReceived("lots"))


def test_accepts_at_effects_and_handoffs() -> None:
    template, state = http_wait()
    assert accepts(template, state, EffectResult(state.waiting_effect or "", ok=True))
    assert not accepts(template, state, TextReceived("menu"))
    handoff = build([{"id": "h", "type": "handoff"}])
    paused = drive(handoff, [Start()])[0].state
    assert accepts(handoff, paused, TextReceived("anything"))
    assert accepts(handoff, paused, Release())


def test_a_handoff_names_its_reason_once() -> None:
    steps: list[dict[str, Any]] = [
        {"id": "ask", "type": "ask", "field": "topic", "prompt": "What about?", "next": "h"},
        {"id": "h", "type": "handoff", "text": "A person joins.", "reason": "asked: {{topic}}"},
    ]
    template = build(steps)
    started, handed, waiting = drive(template, [Start(), TextReceived("refund"), Release()])[:3]
    assert started.handoff_reason is None
    assert (handed.status, handed.handoff_reason) == (FlowStatus.HANDOFF, "asked: refund")
    assert said(handed) == ["A person joins."]
    assert waiting.handoff_reason is None  # released: the run goes on (and ends here)
    still = drive(build([{"id": "h", "type": "handoff"}]), [Start(), TextReceived("hi")])
    assert still[0].handoff_reason == "handoff step 'h'"
    assert (still[1].status, still[1].handoff_reason) == (FlowStatus.HANDOFF, None)


def test_a_handoff_reason_is_checked() -> None:
    try:
        build([{"id": "h", "type": "handoff", "reason": "x" * 501}])
    except TemplateInvalid as error:
        assert any(problem.step == "h" for problem in error.problems), error.problems
    else:
        raise AssertionError("a 501-character reason should be refused")
