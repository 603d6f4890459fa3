"""Each step type, run through advance()."""

from typing import Any

from convoflow.engine import (
    EffectResult,
    EndAction,
    FlowStatus,
    HttpCall,
    Release,
    Start,
    Template,
    TextReceived,
)
from convoflow.engine.runner import MAX_STEPS_PER_ADVANCE

from .helpers import build, drive, limit_violations, said


def start(template: Template, **variables: Any) -> Any:
    return drive(template, [Start(variables)])[0]


def test_message_steps_run_until_a_step_waits() -> None:
    template = build(
        [
            {"id": "a", "type": "message", "text": "Hi {{contact.name}}", "next": "b"},
            {"id": "b", "type": "message", "text": "Second", "next": "q"},
            {"id": "q", "type": "ask", "field": "x", "prompt": "Your answer?"},
        ]
    )
    outcome = start(template)
    assert said(outcome) == ["Hi Ana", "Second", "Your answer?"]
    assert outcome.visited_steps == ["a", "b", "q"]
    assert outcome.status is FlowStatus.WAITING_INPUT
    assert outcome.state.current_step == "q"
    assert outcome.state.history == ["a", "b", "q"]


def test_a_message_without_next_completes_the_flow() -> None:
    outcome = start(build([{"id": "a", "type": "message", "text": "Only this"}]))
    assert (outcome.status, outcome.state, said(outcome)) == (
        FlowStatus.COMPLETED,
        None,
        ["Only this"],
    )


def test_media_steps_send_by_link_or_id_with_rendered_captions() -> None:
    template = build(
        [
            {
                "id": "i",
                "type": "image",
                "url": "https://x/{{code}}.png",
                "caption": "For {{contact.name}}",
                "next": "v",
            },
            {"id": "v", "type": "video", "media_id": "77", "next": "a"},
            {
                "id": "a",
                "type": "audio",
                "url": "https://x/a.ogg",
                "caption": "Listen",
                "next": "d",
            },
            {"id": "d", "type": "document", "url": "https://x/m.pdf", "filename": "menu.pdf"},
        ],
        default_params={"code": "c1"},
    )
    bodies = [m.body for m in start(template).messages]
    assert bodies == [
        {"type": "image", "image": {"link": "https://x/c1.png", "caption": "For Ana"}},
        {"type": "video", "video": {"id": "77"}},
        {"type": "audio", "audio": {"link": "https://x/a.ogg"}},
        {"type": "text", "text": {"body": "Listen"}},
        {"type": "document", "document": {"link": "https://x/m.pdf", "filename": "menu.pdf"}},
    ]


def test_template_step_sends_an_approved_template_with_rendered_parameters() -> None:
    template = build(
        [
            {
                "id": "t",
                "type": "template",
                "name": "order_ready",
                "language": "en_GB",
                "parameters": ["{{contact.name}}", "{{order}}"],
                "components": [
                    {"type": "header", "parameters": [{"type": "text", "text": "{{shop}}"}]}
                ],
            },
        ],
        default_params={"order": "A-1", "shop": "Lucky"},
    )
    (message,) = start(template).messages
    assert message.body == {
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "en_GB"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "Lucky"}]},
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "A-1"},
                    ],
                },
            ],
        },
    }


def test_set_assigns_rendered_values_keeping_raw_types() -> None:
    template = build(
        [
            {
                "id": "s",
                "type": "set",
                "values": {"total": "{{price}}", "label": "{{price}} EUR", "vip": True},
                "next": "q",
            },
            {"id": "q", "type": "ask", "field": "x", "prompt": "?"},
        ],
        default_params={"price": 12},
    )
    assert start(template).state.variables == {
        "price": 12,
        "total": 12,
        "label": "12 EUR",
        "vip": True,
    }


def test_condition_takes_the_first_branch_that_holds_else_default() -> None:
    template = build(
        [
            {
                "id": "c",
                "type": "condition",
                "default": "small",
                "branches": [{"var": "amount", "op": "gte", "value": 1000, "next": "big"}],
            },
            {"id": "big", "type": "end", "text": "big"},
            {"id": "small", "type": "end", "text": "small"},
        ],
        default_params={"amount": 0},
    )
    assert said(start(template, amount=5000)) == ["big"]
    assert said(start(template, amount=10)) == ["small"]


def http_template(**step: Any) -> Template:
    steps = [
        {
            "id": "call",
            "type": "http",
            "method": "POST",
            "url": "https://api.x/loans/{{id}}",
            "headers": {"X-Customer": "{{contact.phone}}"},
            "body": {"amount": "{{amount}}"},
            "save_as": "reply",
            "next": "ok",
            "max_attempts": 5,
            "timeout": 3,
            **step,
        },
        {"id": "ok", "type": "end", "text": "Status: {{reply.status}}"},
    ]
    if "on_failure" in step:
        steps.append({"id": "sorry", "type": "end", "text": "We could not check."})
    return build(steps, default_params={"id": "7", "amount": 1500})


def test_http_step_emits_a_call_and_waits_for_its_result() -> None:
    outcome = start(http_template(on_failure="sorry"))
    assert outcome.status is FlowStatus.WAITING_EFFECT
    assert outcome.effects == [
        HttpCall(
            effect_id="call#1",
            step_id="call",
            method="POST",
            url="https://api.x/loans/7",
            headers={"X-Customer": "447700900123"},
            body={"amount": 1500},
            timeout_seconds=3,
            max_attempts=5,
        )
    ]
    assert outcome.state.waiting_effect == "call#1"


def test_http_success_saves_the_answer_and_continues() -> None:
    template = http_template(on_failure="sorry")
    first = start(template)
    done = drive(
        template, [EffectResult("call#1", ok=True, data={"status": "approved"})], state=first.state
    )[0]
    assert said(done) == ["Status: approved"]
    assert done.status is FlowStatus.COMPLETED


def test_http_failure_goes_to_on_failure() -> None:
    template = http_template(on_failure="sorry")
    first = start(template)
    outcome = drive(template, [EffectResult("call#1", ok=False, error="503")], state=first.state)[0]
    assert said(outcome) == ["We could not check."]


def test_http_failure_without_route_fails_the_flow_politely() -> None:
    template = http_template()
    first = start(template)
    outcome = drive(template, [EffectResult("call#1", ok=False, error="503")], state=first.state)[0]
    assert outcome.status is FlowStatus.FAILED
    assert outcome.state is None
    assert outcome.error == "503"
    assert said(outcome) == [template.texts.effect_failed]


def test_connect_names_the_next_template_and_carries_the_variables() -> None:
    template = build(
        [
            {"id": "s", "type": "set", "values": {"picked": "loan"}, "next": "go"},
            {"id": "go", "type": "connect", "template": "loan_application"},
        ]
    )
    outcome = start(template)
    assert outcome.connect_to == "loan_application"
    assert outcome.status is FlowStatus.COMPLETED
    assert outcome.state.variables == {"picked": "loan"}
    assert outcome.effects == []


def test_handoff_pauses_until_released() -> None:
    template = build(
        [
            {"id": "h", "type": "handoff", "text": "An agent is coming.", "next": "after"},
            {"id": "after", "type": "end", "text": "Back to the bot."},
        ]
    )
    paused, ignored, released = drive(template, [Start(), TextReceived("hello?"), Release()])
    assert (paused.status, said(paused)) == (FlowStatus.HANDOFF, ["An agent is coming."])
    assert (ignored.status, ignored.messages) == (FlowStatus.HANDOFF, [])
    assert (released.status, said(released)) == (FlowStatus.COMPLETED, ["Back to the bot."])


def test_end_sends_its_text_and_runs_the_end_action_with_the_collected_data() -> None:
    template = build(
        [
            {"id": "s", "type": "set", "values": {"amount": 900}, "next": "e"},
            {"id": "e", "type": "end", "text": "Done, {{amount}}."},
        ],
        end_action_type="api_call",
        end_action_target={
            "endpoint": "https://x/apps",
            "method": "POST",
            "headers": {"K": "{{amount}}"},
        },
    )
    outcome = start(template)
    assert said(outcome) == ["Done, 900."]
    assert outcome.effects == [
        EndAction(
            effect_id="e#end2",
            action_type="api_call",
            target={"endpoint": "https://x/apps", "method": "POST", "headers": {"K": 900}},
            state_data={"amount": 900},
        )
    ]


def test_end_step_may_skip_the_end_action() -> None:
    template = build(
        [{"id": "e", "type": "end", "end_action": False}],
        end_action_type="api_call",
        end_action_target={"endpoint": "https://x"},
    )
    assert start(template).effects == []


def test_collect_asks_each_missing_required_field_in_turn() -> None:
    template = build(
        [
            {"id": "c", "type": "collect", "intro": "A few questions.", "next": "e"},
            {"id": "e", "type": "end", "text": "{{amount}} for {{purpose}}"},
        ],
        state_schema={
            "amount": {"type": "number", "prompt": "How much?", "min": 100},
            "purpose": {"prompt": "What for?"},
            "note": {"required": False},
        },
    )
    first, too_small, amount, purpose = drive(
        template, [Start(), TextReceived("5"), TextReceived("1,500"), TextReceived("A roof")]
    )
    assert said(first) == ["A few questions.", "How much?"]
    assert said(too_small) == ["Please send a number of at least 100.", "How much?"]
    assert said(amount) == ["What for?"]
    assert said(purpose) == ["1500 for A roof"]


def test_collect_skips_fields_already_known() -> None:
    template = build(
        [
            {"id": "c", "type": "collect", "next": "e"},
            {"id": "e", "type": "end", "text": "{{amount}}"},
        ],
        state_schema={"amount": {"type": "number"}},
    )
    assert said(start(template, amount=300)) == ["300"]


def test_a_loop_that_never_waits_is_cut_off_instead_of_hanging() -> None:
    template = Template.from_parts(
        name="loop",
        menu_structure={
            "start": "a",
            "steps": [{"id": "a", "type": "message", "text": "again", "next": "a"}],
        },
    )
    outcome = start(template)
    assert outcome.status is FlowStatus.FAILED
    assert outcome.error == "too many steps without waiting"
    assert len(outcome.visited_steps) == MAX_STEPS_PER_ADVANCE


def test_rendered_variables_never_push_messages_over_whatsapp_limits() -> None:
    big = "x" * 6000
    template = build(
        [
            {"id": "m", "type": "message", "text": "{{big}}", "next": "i"},
            {
                "id": "i",
                "type": "image",
                "url": "https://x/a.png",
                "caption": "{{big}}",
                "next": "b",
            },
            {
                "id": "b",
                "type": "buttons",
                "text": "{{big}}",
                "header": "{{big}}",
                "footer": "{{big}}",
                "buttons": [{"id": "a", "label": "A"}],
            },
        ],
        default_params={"big": big},
    )
    outcome = start(template)
    assert [limit_violations(m.body) for m in outcome.messages] == [[], [], []]


def test_collect_whose_fields_were_filled_meanwhile_moves_on() -> None:
    template = build(
        [
            {"id": "c", "type": "collect", "next": "e"},
            {"id": "e", "type": "end", "text": "{{amount}}"},
        ],
        state_schema={"amount": {"type": "number"}},
    )
    waiting = start(template).state
    waiting.variables["amount"] = 250  # set through the admin API while the customer was away
    assert said(drive(template, [TextReceived("anything")], state=waiting)[0]) == ["250"]
