"""Where the token key comes from: the setting, a generated 0600 key file, or nowhere."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from convoflow.encryption import key_file_path, load_token_cipher
from convoflow.settings import Settings, SettingsError, load_settings

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/convoflow"
TOKEN = "EAAG-test-token"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave new files readable by everyone."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def test_the_key_file_sits_beside_the_sqlite_database() -> None:
    assert key_file_path("sqlite+aiosqlite:///./convoflow.db") == Path("convoflow.key")
    assert key_file_path("sqlite+aiosqlite:////srv/data/bot.sqlite3") == Path("/srv/data/bot.key")
    assert key_file_path("sqlite+aiosqlite://") is None
    assert key_file_path("sqlite+aiosqlite:///:memory:") is None
    assert key_file_path(POSTGRES) is None


@pytest.mark.usefixtures("open_umask")
def test_first_start_generates_a_key_file_only_its_owner_can_read(tmp_path: Path) -> None:
    database = tmp_path / "convoflow.db"

    cipher = load_token_cipher("", sqlite_url(database))

    key_file = tmp_path / "convoflow.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 32
    assert cipher.origin == f"the key file {key_file}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["convoflow.key"]  # no leftovers


def test_the_next_start_reuses_the_key_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "convoflow.db")
    sealed = load_token_cipher("", url).encrypt(TOKEN)

    assert load_token_cipher("", url).decrypt(sealed) == TOKEN


def test_the_key_file_content_works_as_the_secret_key_setting(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "convoflow.db")
    sealed = load_token_cipher("", url).encrypt(TOKEN)
    secret = (tmp_path / "convoflow.key").read_text().strip()

    assert load_token_cipher(secret, POSTGRES).decrypt(sealed) == TOKEN


def test_the_setting_wins_over_a_key_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "convoflow.db")
    (tmp_path / "convoflow.key").write_text("a-key-file-secret-nobody-uses\n")

    cipher = load_token_cipher("the-secret-from-the-setting", url)

    assert cipher.origin == "CONVOFLOW_SECRET_KEY"


def test_postgres_without_the_setting_refuses_naming_it() -> None:
    cipher = load_token_cipher("", POSTGRES)

    assert not cipher.available
    assert "CONVOFLOW_SECRET_KEY is not set" in cipher.problem
    assert "access_token_env" in cipher.problem


def test_an_unusable_key_file_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "convoflow.key").mkdir()  # a directory where the file should be

    cipher = load_token_cipher("", sqlite_url(tmp_path / "convoflow.db"))

    assert not cipher.available
    assert f"the key file {tmp_path / 'convoflow.key'} cannot be read" in cipher.problem


def test_an_empty_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "convoflow.key").write_text("\n")

    cipher = load_token_cipher("", sqlite_url(tmp_path / "convoflow.db"))

    assert "holds no key" in cipher.problem


def test_a_short_secret_key_stops_start_up_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVOFLOW_SECRET_KEY", "short-secret")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value).startswith("CONVOFLOW_SECRET_KEY: ")
    assert "short-secret" not in str(raised.value)


def test_the_secret_key_is_not_shown_in_the_settings_repr() -> None:
    settings = Settings(secret_key="a-long-random-secret-for-tests")  # type: ignore[arg-type]

    assert "a-long-random-secret-for-tests" not in repr(settings)
    assert settings.secret_key.get_secret_value() == "a-long-random-secret-for-tests"
