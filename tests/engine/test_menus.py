from convoflow.engine.menus import Menu, MenuOption

MENU = Menu.of(
    [
        MenuOption("order", "New order", "pick"),
        MenuOption("help", "Support", "support"),
        MenuOption("3", "Account", "account"),
    ]
)


def test_reply_matches_option_id_case_insensitively() -> None:
    assert MENU.match(" ORDER ") == MENU.options[0]


def test_reply_matches_label_trimmed_and_case_insensitively() -> None:
    assert MENU.match("  support ") == MENU.options[1]


def test_reply_matches_option_number() -> None:
    assert MENU.match("2") == MENU.options[1]
    assert MENU.match("2.") == MENU.options[1]
    assert MENU.match("1)") == MENU.options[0]


def test_option_id_wins_over_option_number() -> None:
    menu = Menu.of([MenuOption("3", "Three"), MenuOption("x", "X"), MenuOption("y", "Y")])
    assert menu.match("3") == menu.options[0]


def test_unknown_reply_matches_nothing() -> None:
    assert MENU.match("pizza") is None
    assert MENU.match("") is None
    assert MENU.match("7") is None


def test_tapped_choice_matches_by_id_then_title() -> None:
    assert MENU.match_choice("help") == MENU.options[1]
    assert MENU.match_choice("unknown-id", "Account") == MENU.options[2]
    assert MENU.match_choice("unknown-id", "nope") is None
