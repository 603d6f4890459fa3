"""`convoflow chat` (piped) and `convoflow validate`, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_operator_commands import run_cli


def chat(database_url: str, lines: str, *args: str, settings: dict[str, str] | None = None) -> str:
    """What `convoflow chat` prints for these piped ``lines`` (``settings``: more
    ``CONVOFLOW_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    env["CONVOFLOW_DATABASE_URL"] = database_url
    env.update(settings or {})
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", "chat", *args],
        input=lines,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"


def test_piped_chat_shows_menu_and_follows_choices(db: str) -> None:
    output = chat(db, "hi\n1\n2\n3\nConfirm\n")
    assert "bot: Hi Chat user!" in output
    assert "  1. New order" in output and "  3. My account" in output
    assert "  2. Cappuccino - Espresso with foamed milk, 3.20" in output
    assert "How many Cappuccino" in output
    assert "Your order of 3 × Cappuccino is confirmed" in output


def test_chat_template_option_starts_loan_and_reasks_wrong_amount(db: str) -> None:
    output = chat(db, "lots\n2500\nA new roof\nSubmit\n", "--template", "loan_application")
    assert output.count("How much would you like to borrow?") == 2
    assert "between 100 and 50,000" in output
    assert "has been received" in output


def test_chat_media_step_is_a_line_naming_the_file(db: str) -> None:
    output = chat(db, "account\nLoyalty card\n", "--phone", "15550000222")
    assert "[image]" in output


def test_validate_accepts_each_builtin_and_flow_runner(tmp_path: Path) -> None:
    builtin = Path(__file__).parents[2] / "src" / "convoflow" / "builtin" / "new_order.yaml"
    result = run_cli("sqlite+aiosqlite:///unused.db", "validate", str(builtin))
    assert result.stdout.startswith("ok: new_order: native format")
    flow = tmp_path / "flow.json"
    flow.write_text(
        json.dumps(
            {
                "name": "promo",
                "status": "ACTIVE",
                "triggers": ["promo"],
                "steps": [
                    {
                        "id": "s1",
                        "type": "MessageAction",
                        "message": "Pick one",
                        "buttons": [{"label": "Yes", "next": "s2"}, {"label": "No", "next": "s2"}],
                        "position": {"x": 1, "y": 2},
                    },
                    {
                        "id": "s2",
                        "type": "ImageMessage",
                        "file": "https://example.com/a.png",
                        "message": "Here you go",
                    },
                ],
            }
        )
    )
    result = run_cli("sqlite+aiosqlite:///unused.db", "validate", str(flow))
    assert result.stdout.startswith("ok: promo: flow_runner format")


def test_validate_lists_every_problem_with_step_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "start: welcome\n"
        "steps:\n"
        "  - id: welcome\n"
        "    type: buttons\n"
        "    text: Choose\n"
        "    buttons:\n"
        "      - {id: a, label: This label is far too long for WhatsApp, next: nowhere}\n"
        "  - id: lost\n"
        "    type: warp\n"
    )
    result = run_cli("sqlite+aiosqlite:///unused.db", "validate", str(bad), check=False)
    assert result.returncode == 1
    output = result.stdout
    assert "welcome" in output and "label" in output
    assert "nowhere" in output
    assert "lost" in output and "warp" in output


def test_validate_reports_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_cli("sqlite+aiosqlite:///unused.db", "validate", str(broken), check=False)
    assert result.returncode == 1
    assert "not valid" in result.stdout


def test_validate_accepts_an_ai_template_offline_and_names_what_it_could_not_check(
    tmp_path: Path,
) -> None:
    loan = tmp_path / "loan.json"
    loan.write_text(
        json.dumps(
            {
                "name": "loan_application",
                "guidelines": "Ask for the amount and the purpose.",
                "state_schema": {"amount": {"type": "number"}, "purpose": {"type": "string"}},
                "workflow_type": "full",
                "required_tools": ["crm"],
                "required_retrievers": ["faq"],
                "trigger_keywords": ["loan"],
            }
        )
    )
    result = run_cli("sqlite+aiosqlite:///unused.db", "validate", str(loan))
    output = " ".join(result.stdout.split())
    assert output.startswith("ok: loan_application: an AI template")
    assert "needs CONVOFLOW_LLM_BASE_URL and CONVOFLOW_LLM_MODEL" in output
    assert "not checked offline: knowledge base 'faq', tool 'crm'" in output
