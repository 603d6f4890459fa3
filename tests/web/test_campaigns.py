"""The Campaigns page: watch a campaign that ran (its funnel and failures equal the API's,
its recipients filtered by status), then pause, resume and cancel another one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.graph_stub import GraphStub
from tests.web.conftest import screenshot, sign_in
from tests.web.server import WebServer, WebUser
from tests.web.whatsapp import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.web]

SPRING = ["33699000001", "33699000002", "33699000003"]
SUMMER = ["33699000011", "33699000012", "33699000013", "33699000014"]


def campaign(api: httpx.Client, name: str, numbers: list[str], schedule: dict[str, Any]) -> str:
    """A campaign with a CSV audience, scheduled; its id."""
    created = api.post(
        "/api/campaigns",
        json={"name": name, "template": {"name": "spring_sale"}, "parameters": {}},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    audience = "phone,city\n" + "".join(f"{number},Lyon\n" for number in numbers)
    chosen = api.post(f"/api/campaigns/{campaign_id}/audience", json={"csv": audience})
    assert chosen.json()["recipients"] == len(numbers), chosen.text
    scheduled = api.post(f"/api/campaigns/{campaign_id}/schedule", json=schedule)
    assert scheduled.status_code == 200, scheduled.text
    return campaign_id


def status_shown(page: Any, status: str) -> None:
    page.locator(".page-head").get_by_test_id("campaign-status").filter(has_text=status).wait_for()


def test_watch_a_campaign_then_pause_resume_and_cancel_another(
    page: Any, web: WebServer, admin: WebUser, web_stub: GraphStub
) -> None:
    web_stub.fail_for(f"+{SPRING[2]}", code=131026)  # undeliverable: failed with its code
    with web.api(admin) as api:
        spring = campaign(api, "Spring sale", SPRING, {"max_mps": 10})
        summer = campaign(api, "Summer sale", SUMMER, {"start_at": "2030-06-01T09:00:00Z"})

        def spring_completed() -> bool:
            return bool(api.get(f"/api/campaigns/{spring}").json()["status"] == "completed")

        wait_until(spring_completed, "the spring campaign to complete")
        funnel = api.get(f"/api/campaigns/{spring}").json()["funnel"]
    assert (funnel["targeted"], funnel["sent"], funnel["failures"]) == (3, 2, {"131026": 1})

    sign_in(page, web, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_test_id(f"campaign-row-{summer}").filter(has_text="scheduled").wait_for()
    page.get_by_test_id(f"campaign-row-{spring}").filter(has_text="completed").wait_for()
    page.get_by_role("link", name="Spring sale").click()

    status_shown(page, "completed")
    for key in ("targeted", "sent", "delivered", "read", "replied", "opted_out"):
        shown = page.get_by_test_id(f"funnel-{key}").locator("strong").inner_text()
        assert int(shown) == funnel[key], key
    failures = page.get_by_test_id("table-campaign-failures").locator("tbody tr")
    assert failures.all_inner_texts() == ["131026\t1"]
    recipients = page.get_by_test_id("table-campaign-recipients").locator("tbody tr")
    assert recipients.count() == 3
    page.get_by_label("Recipients with status").select_option("failed")
    page.get_by_test_id("recipient-total").filter(has_text="1–1 of 1").wait_for()
    assert SPRING[2] in recipients.first.inner_text()
    assert page.get_by_test_id("campaign-pause").count() == 0  # nothing left to stop
    screenshot(page, "campaign-funnel")

    page.get_by_role("link", name="← All campaigns").click()
    page.get_by_role("link", name="Summer sale").click()
    status_shown(page, "scheduled")
    page.get_by_test_id("campaign-pause").click()
    status_shown(page, "paused")
    page.get_by_test_id("paused-reason").filter(has_text="paused by the owner").wait_for()
    page.get_by_test_id("campaign-resume").click()
    status_shown(page, "scheduled")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("campaign-cancel").click()
    status_shown(page, "cancelled")
    statuses = page.get_by_test_id("table-campaign-statuses").locator("tbody tr")
    statuses.filter(has_text="skipped").wait_for()
    assert statuses.all_inner_texts() == ["skipped\t4"]
    assert page.get_by_test_id("campaign-cancel").count() == 0
    screenshot(page, "campaign-cancelled")
    with web.api(admin) as api:
        assert api.get(f"/api/campaigns/{summer}").json()["status"] == "cancelled"
    assert web_stub.sent_to(f"+{SUMMER[0]}") == []
