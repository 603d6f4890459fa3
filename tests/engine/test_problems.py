from pydantic import BaseModel, ValidationError

from convoflow.engine.problems import (
    Problem,
    TemplateInvalid,
    field_path,
    problems_from_validation_error,
)


def test_problem_reads_as_step_field_and_message() -> None:
    problem = Problem("pick", "sections[0].rows[3].title", "longer than 24 characters")
    assert (
        str(problem) == "step 'pick' field 'sections[0].rows[3].title': longer than 24 characters"
    )


def test_problem_without_step_or_field_is_just_the_message() -> None:
    assert str(Problem("", "start", "missing")) == "field 'start': missing"
    assert str(Problem("a", "", "unreachable")) == "step 'a': unreachable"
    assert str(Problem("", "", "bad")) == "bad"


def test_problem_serialises_for_the_api() -> None:
    assert Problem("a", "b", "c").to_json() == {"step": "a", "field": "b", "message": "c"}


def test_template_invalid_carries_and_lists_its_problems() -> None:
    error = TemplateInvalid([Problem("a", "", "x"), Problem("b", "", "y")])
    assert len(error.problems) == 2
    assert str(error) == "step 'a': x; step 'b': y"


def test_field_paths_join_keys_and_indexes() -> None:
    assert field_path(("sections", 0, "rows", 3, "title")) == "sections[0].rows[3].title"


class Sample(BaseModel):
    count: int
    name: str


def test_pydantic_errors_become_problems_without_tracebacks() -> None:
    try:
        Sample.model_validate({"count": "many"})
    except ValidationError as error:
        problems = problems_from_validation_error(error, step="s", prefix="state_schema.x")
    assert [str(p) for p in problems] == [
        "step 's' field 'state_schema.x.count': Input should be a valid integer, "
        "unable to parse string as an integer",
        "step 's' field 'state_schema.x.name': required",
    ]
