import re

import pytest
from pydantic import ValidationError

from convoflow.engine.fields import FieldSpec


def test_plain_strings_are_choice_options_with_id_and_label() -> None:
    spec = FieldSpec.model_validate(
        {"type": "choice", "options": ["red", {"id": "bl", "label": "Blue"}]}
    )
    assert [(o.id, o.label) for o in spec.options] == [("red", "red"), ("bl", "Blue")]
    assert spec.answer.menu is not None


def test_fields_are_required_unless_said_otherwise() -> None:
    assert FieldSpec().required
    assert not FieldSpec(required=False).required


def test_prompt_defaults_to_a_question_naming_the_field() -> None:
    assert FieldSpec().prompt_for("first_name") == "Please enter your first name."
    assert FieldSpec(prompt="Your name?").prompt_for("first_name") == "Your name?"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "choice"}, "a choice field needs options"),
        ({"type": "string", "options": ["a"]}, "options are only allowed for choice fields"),
        ({"type": "pattern"}, "a pattern field needs a pattern"),
        ({"type": "pattern", "pattern": "(["}, "invalid regular expression"),
        ({"type": "date", "min": 1}, "min/max are not supported for date fields"),
        ({"type": "number", "min": 5, "max": 1}, "min (5) is greater than max (1)"),
        ({"type": "colour"}, "Input should be"),
    ],
)
def test_inconsistent_rules_are_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        FieldSpec.model_validate(spec)


def test_integer_bounds_keep_their_type() -> None:
    assert FieldSpec(type="integer", min=1, max=20).min == 1
    assert isinstance(FieldSpec(type="integer", min=1).min, int)
