"""``convoflow campaigns ...`` as an operator runs them, on a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from convoflow.store import migrate
from tests.campaigns.helpers import numbers


def run_cli(database_url: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}
    env.update(
        CONVOFLOW_DATABASE_URL=database_url,
        CONVOFLOW_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
        COLUMNS="200",
    )
    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_create_audience_schedule_pause_resume_cancel(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    run_cli(url, "seed")
    campaign_id = run_cli(
        url,
        "campaigns",
        "create",
        "Spring",
        "--template",
        "spring_sale",
        "--param",
        "body={{recipient.name}}",
    ).strip()
    audience = tmp_path / "audience.csv"
    first, second = numbers(2)
    audience.write_text(f"phone,name\n{first},Ana\n{second},Bo\nnope,Cy\n", encoding="utf-8")
    shown = run_cli(url, "campaigns", "audience", campaign_id, "--csv", str(audience))
    assert "2 recipients; 1 rejected" in shown
    assert "row 4: 'nope'" in shown
    preview = run_cli(url, "campaigns", "preview", campaign_id, "--recipient", second)
    assert '"text": "Bo"' in preview
    scheduled = run_cli(
        url, "campaigns", "schedule", campaign_id, "--window", "09:00-20:00", "--max-mps", "5"
    )
    assert "scheduled" in scheduled
    assert "paused" in run_cli(url, "campaigns", "pause", campaign_id)
    resumed = run_cli(url, "campaigns", "resume", campaign_id)
    assert "scheduled" in resumed or "sending" in resumed
    assert "cancelled" in run_cli(url, "campaigns", "cancel", campaign_id)
    summary = run_cli(url, "campaigns", "show", campaign_id)
    assert "cancelled" in summary and "skipped 2" in summary
    assert campaign_id in run_cli(url, "campaigns", "list")
