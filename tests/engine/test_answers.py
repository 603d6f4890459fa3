from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.engine.answers import (
    coerce_state_data,
    coerce_value,
    parse_answer,
    parse_number,
    validate_state_data,
)
from convoflow.engine.fields import FieldSpec


def spec(**rules: Any) -> FieldSpec:
    return FieldSpec.model_validate(rules)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1500", 1500),
        ("1,500", 1500),
        ("1500.50", 1500.5),
        ("12,5", 12.5),
        ("$ 2 500", 2500),
        ("-3", -3),
        ("1,234,567.8", 1234567.8),
    ],
)
def test_numbers_are_read_the_way_customers_type_them(text: str, value: float) -> None:
    assert parse_answer(spec(type="number"), text) == (value, None)


@pytest.mark.parametrize("text", ["abc", "1.2.3", "1e5", "nan", "inf", "9" * 30, ""])
def test_non_numbers_are_refused(text: str) -> None:
    value, error = parse_answer(spec(type="number"), text)
    assert value is None
    assert error


def test_whole_numbers_are_ints_and_fractions_refused_for_integers() -> None:
    assert parse_answer(spec(type="integer"), "3") == (3, None)
    assert parse_answer(spec(type="integer"), "3.0") == (3, None)
    assert (
        parse_answer(spec(type="integer"), "2.5").error
        == "Please send a whole number, for example 3."
    )


def test_number_bounds_name_the_range() -> None:
    amount = spec(type="number", min=100, max=50000)
    assert parse_answer(amount, "99").error == "Please send a number between 100 and 50000."
    assert parse_answer(amount, "50,000") == (50000, None)
    assert (
        parse_answer(spec(type="integer", min=1), "0").error
        == "Please send a whole number of at least 1."
    )
    assert (
        parse_answer(spec(type="number", max=5), "6").error == "Please send a number of at most 5."
    )


def test_a_fields_own_error_text_replaces_the_default() -> None:
    amount = spec(type="number", min=100, error="Between 100 and 50,000, please.")
    assert parse_answer(amount, "5").error == "Between 100 and 50,000, please."
    assert parse_answer(amount, "lots").error == "Between 100 and 50,000, please."


def test_strings_are_trimmed_and_length_bounded() -> None:
    purpose = spec(type="string", min=3, max=10)
    assert parse_answer(purpose, "  new roof ") == ("new roof", None)
    assert parse_answer(purpose, "ab").error == "Please use between 3 and 10 characters."
    assert (
        parse_answer(spec(type="string", max=2), "abc").error == "Please use at most 2 characters."
    )
    assert (
        parse_answer(spec(type="string", min=2), "a").error == "Please use at least 2 characters."
    )
    assert parse_answer(spec(type="string"), "   ").error


def test_emails_are_checked_and_their_domain_lowercased() -> None:
    email = spec(type="email")
    assert parse_answer(email, " Ana@Example.COM ") == ("Ana@example.com", None)
    for bad in ["ana", "ana@", "ana@example", "a b@example.com", "@example.com"]:
        assert parse_answer(email, bad).error


def test_phones_become_digits_with_the_country_code() -> None:
    phone = spec(type="phone")
    assert parse_answer(phone, "+44 7700 900-123") == ("447700900123", None)
    assert parse_answer(phone, "0044 (7700) 900123") == ("447700900123", None)
    assert parse_answer(phone, "12345").error
    assert parse_answer(phone, "call me").error


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025-12-31", "2025-12-31"),
        ("31/12/2025", "2025-12-31"),
        ("1.2.2024", "2024-02-01"),
        ("2024/2/29", "2024-02-29"),
    ],
)
def test_dates_become_iso_dates(text: str, iso: str) -> None:
    assert parse_answer(spec(type="date"), text) == (iso, None)


@pytest.mark.parametrize("text", ["31/02/2025", "2025-13-01", "tomorrow", "12/2025"])
def test_impossible_dates_are_refused(text: str) -> None:
    assert parse_answer(spec(type="date"), text).error


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("sí", True),
        ("1", True),
        ("no", False),
        ("N", False),
        ("false", False),
    ],
)
def test_booleans_accept_common_words(text: str, value: bool) -> None:
    assert parse_answer(spec(type="boolean"), text) == (value, None)


def test_booleans_refuse_other_words() -> None:
    assert parse_answer(spec(type="boolean"), "maybe").error == "Please answer yes or no."


def test_choices_match_id_label_or_number_and_store_the_id() -> None:
    colour = spec(type="choice", options=["red", {"id": "bl", "label": "Blue"}])
    assert parse_answer(colour, "RED") == ("red", None)
    assert parse_answer(colour, "blue") == ("bl", None)
    assert parse_answer(colour, "2") == ("bl", None)
    assert parse_answer(colour, "green").error == "Please choose one of: red, Blue."


def test_patterns_must_match_the_whole_answer() -> None:
    code = spec(type="pattern", pattern=r"[A-Z]{3}-\d{3}")
    assert parse_answer(code, "ABC-123") == ("ABC-123", None)
    assert parse_answer(code, "ABC-1234").error


def test_parse_number_reads_without_a_field() -> None:
    assert parse_number("€ 12,5") == 12.5
    assert parse_number("twelve") is None


def test_json_values_from_the_api_are_coerced_by_type() -> None:
    assert coerce_value(spec(type="number", min=100), 150) == (150, None)
    assert coerce_value(spec(type="number", min=100), 50).error
    assert coerce_value(spec(type="boolean"), False) == (False, None)
    assert coerce_value(spec(type="number"), True).error
    assert coerce_value(spec(type="string"), ["a"]).error
    assert coerce_value(spec(type="choice", options=["1", "2"]), 2) == ("2", None)


SCHEMA = {
    "amount": spec(type="number", min=100, max=50000),
    "purpose": spec(type="string"),
    "note": spec(type="string", required=False),
}


def test_state_data_updates_check_only_the_given_fields() -> None:
    assert validate_state_data(SCHEMA, {"amount": "2,500"}) == {}


def test_state_data_updates_refuse_unknown_fields_and_bad_values() -> None:
    errors = validate_state_data(SCHEMA, {"amount": 5, "colour": "red", "purpose": None})
    assert errors == {
        "amount": "Please send a number between 100 and 50000.",
        "colour": "unknown field",
        "purpose": "this field is required",
    }


def test_state_data_updates_are_normalised_and_may_clear_optional_fields() -> None:
    values, errors = coerce_state_data(SCHEMA, {"amount": "1,500", "note": None})
    assert (values, errors) == ({"amount": 1500, "note": None}, {})


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["number", "integer", "string", "email", "phone", "date", "boolean"]),
    text=st.text(max_size=40),
)
def test_any_text_is_parsed_or_refused_with_a_message(kind: str, text: str) -> None:
    value, error = parse_answer(
        spec(type=kind, **({"min": 1, "max": 5} if kind != "date" and kind != "boolean" else {})),
        text,
    )
    assert (value is None) != (error is None) or (value is False and error is None)
