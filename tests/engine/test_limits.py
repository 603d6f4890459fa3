from convoflow.engine.limits import truncate


def test_short_text_is_unchanged() -> None:
    assert truncate("hello", 5) == "hello"


def test_long_text_is_cut_with_an_ellipsis_within_the_limit() -> None:
    cut = truncate("x" * 30, 20)
    assert len(cut) == 20
    assert cut.endswith("…")
