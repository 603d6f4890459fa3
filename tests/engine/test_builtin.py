"""The built-in templates: well-formed definitions that validate and run to completion."""

from typing import Any

import pytest

from convoflow.builtin import load_builtin_templates
from convoflow.engine import (
    ChoiceReceived,
    EndAction,
    Event,
    FlowStatus,
    Outcome,
    Release,
    Start,
    Template,
    TextReceived,
    advance,
    validate_template,
)

from .helpers import CONTACT, NOW, limit_violations, said

NAMES = ["account", "loan_application", "main_menu", "new_order", "support"]
DEFINITION_FIELDS = {
    "template_name",
    "description",
    "template_type",
    "workflow_type",
    "category",
    "trigger_keywords",
    "menu_structure",
    "state_schema",
    "guidelines",
    "end_action_type",
    "end_action_target",
    "default_params",
    "session_ttl_seconds",
    "tags",
    "is_public",
}


def test_builtin_templates_are_listed_sorted_by_name() -> None:
    assert [document["template_name"] for document in load_builtin_templates()] == NAMES


def test_every_builtin_definition_has_the_template_fields() -> None:
    for document in load_builtin_templates():
        assert set(document) == DEFINITION_FIELDS, document["template_name"]
        assert document["is_public"] is True
        assert document["trigger_keywords"]


def test_loaded_definitions_are_fresh_copies() -> None:
    load_builtin_templates()[0]["template_name"] = "changed"
    assert load_builtin_templates()[0]["template_name"] == "account"


@pytest.mark.parametrize("document", load_builtin_templates(), ids=NAMES)
def test_every_builtin_template_validates(document: dict[str, Any]) -> None:
    assert (
        validate_template(
            document["menu_structure"],
            state_schema=document["state_schema"],
            default_params=document["default_params"],
            end_action_type=document["end_action_type"],
            end_action_target=document["end_action_target"],
        )
        == []
    )


def test_kinds_and_triggers_match_the_catalogue() -> None:
    by_name = {document["template_name"]: document for document in load_builtin_templates()}
    assert by_name["main_menu"]["trigger_keywords"] == ["hi", "hello", "start", "menu"]
    assert by_name["main_menu"]["template_type"] == "button"
    assert by_name["new_order"]["template_type"] == "list"
    assert by_name["loan_application"]["template_type"] == "flow"
    assert by_name["loan_application"]["workflow_type"] == "tools"
    assert by_name["loan_application"]["category"] == "fintech"
    assert by_name["loan_application"]["end_action_target"]["method"] == "POST"


def talk(templates: dict[str, Template], name: str, events: list[Event]) -> list[Outcome]:
    """Run a scripted conversation, following `connect` into the next template."""
    template, state = templates[name], None
    outcomes = []
    for event in [Start(), *events]:
        outcome = advance(template, state, event, NOW, contact=CONTACT)
        if outcome.connect_to:
            carried = outcome.state.variables if outcome.state else {}
            template = templates[outcome.connect_to]
            outcome = advance(template, None, Start(carried), NOW, contact=CONTACT)
        for message in outcome.messages:
            assert limit_violations(message.body) == []
        outcomes.append(outcome)
        state = outcome.state
    return outcomes


def test_main_menu_greets_by_name_and_connects_to_an_order(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates,
        "main_menu",
        [
            ChoiceReceived("new_order", "New order"),
            TextReceived("Cappuccino"),
            TextReceived("2"),
            ChoiceReceived("confirm", "Confirm"),
        ],
    )
    assert said(outcomes[0])[0].startswith("Hi Ana!")
    assert outcomes[1].messages[0].body["interactive"]["type"] == "list"
    assert said(outcomes[-1])[0].startswith("Thank you! Your order of 2 × Cappuccino is confirmed.")
    assert outcomes[-1].status is FlowStatus.COMPLETED


def test_new_order_lists_at_least_four_products_and_bounds_the_quantity(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates,
        "new_order",
        [TextReceived("1"), TextReceived("21"), TextReceived("3"), TextReceived("change")],
    )
    rows = [
        row
        for section in outcomes[0].messages[0].body["interactive"]["action"]["sections"]
        for row in section["rows"]
    ]
    assert len(rows) >= 4
    assert said(outcomes[2])[0] == "Please send a whole number from 1 to 20."
    assert outcomes[-1].state.current_step == "pick_product"


def test_support_answers_a_question_then_says_goodbye(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates, "support", [TextReceived("Opening hours"), TextReceived("No, thanks")]
    )
    assert said(outcomes[1])[0].startswith("We are open")
    assert outcomes[-1].status is FlowStatus.COMPLETED


def test_support_hands_off_to_a_human_until_released(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates, "support", [ChoiceReceived("agent"), TextReceived("hello?"), Release()]
    )
    assert outcomes[1].status is FlowStatus.HANDOFF
    assert outcomes[2].messages == []
    assert outcomes[-1].status is FlowStatus.COMPLETED


def test_account_validates_the_email(builtin_templates: dict[str, Template]) -> None:
    outcomes = talk(
        builtin_templates,
        "account",
        [
            TextReceived("Update email"),
            TextReceived("ana.example"),
            TextReceived("Ana@Example.com"),
        ],
    )
    assert outcomes[2].input_rejected
    assert said(outcomes[-1]) == ["Done! We'll send your receipts to Ana@example.com from now on."]


def test_account_shows_the_loyalty_card_image(builtin_templates: dict[str, Template]) -> None:
    outcomes = talk(builtin_templates, "account", [TextReceived("2")])
    image = outcomes[-1].messages[0].body
    assert image["type"] == "image"
    assert image["image"]["caption"].startswith("Here is your loyalty card, Ana.")
    assert outcomes[-1].status is FlowStatus.COMPLETED


def test_account_goes_back_to_the_main_menu(builtin_templates: dict[str, Template]) -> None:
    outcomes = talk(builtin_templates, "account", [TextReceived("Main menu")])
    assert said(outcomes[-1])[0].startswith("Hi Ana!")


def test_loan_application_collects_confirms_and_submits(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates,
        "loan_application",
        [
            TextReceived("50"),
            TextReceived("2,500"),
            TextReceived("New roof"),
            ChoiceReceived("submit"),
        ],
    )
    assert said(outcomes[0]) == [
        "Let's start your loan application, Ana. It takes about a minute.",
        "How much would you like to borrow? (100 to 50,000)",
    ]
    assert said(outcomes[1])[0] == "Please send an amount between 100 and 50,000, for example 2500."
    assert "• Amount: 2500\n• Purpose: New roof" in said(outcomes[3])[0]
    last = outcomes[-1]
    assert last.status is FlowStatus.COMPLETED
    (action,) = last.effects
    assert isinstance(action, EndAction)
    assert action.action_type == "api_call"
    assert action.target == {"endpoint": "http://127.0.0.1:9/loan-applications", "method": "POST"}
    assert action.state_data["amount"] == 2500
    assert action.state_data["purpose"] == "New roof"


def test_loan_application_can_start_over_and_be_abandoned_without_submitting(
    builtin_templates: dict[str, Template],
) -> None:
    outcomes = talk(
        builtin_templates,
        "loan_application",
        [
            TextReceived("1000"),
            TextReceived("Car"),
            TextReceived("Start over"),
            TextReceived("3000"),
            TextReceived("Car repair"),
            TextReceived("Cancel application"),
        ],
    )
    assert said(outcomes[3]) == ["How much would you like to borrow? (100 to 50,000)"]
    assert outcomes[-1].status is FlowStatus.COMPLETED
    assert outcomes[-1].effects == []
