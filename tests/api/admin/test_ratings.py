"""``POST /api/workflow-templates/{id}/ratings``: one rating per user and template."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from convoflow.services.access import setup
from convoflow.store.models import TemplateRating
from tests.api.admin.conftest import AdminApi, error_of
from tests.api.admin.helpers import greeting

BASE = "/api/workflow-templates"


async def create(api: AdminApi, *, public: bool = True) -> dict[str, Any]:
    response = await api.post(BASE, json=greeting(is_public=public))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def rate(api: AdminApi, template_id: str, stars: Any, user: str = "alice") -> Any:
    return await api.post(f"{BASE}/{template_id}/ratings", user=user, json={"rating": stars})


async def stored_ratings(api: AdminApi) -> int:
    async with api.runtime.db_sessions() as db_session:
        return int((await db_session.execute(select(func.count(TemplateRating.id)))).scalar_one())


async def test_rating_again_replaces_the_earlier_rating(api: AdminApi) -> None:
    template = await create(api)
    for user, stars in (("alice", 5), ("bob", 2), ("bob", 5)):
        response = await rate(api, template["id"], stars, user)
        assert response.status_code == 200
    assert response.json() == {
        "template_id": template["id"],
        "rating": 5.0,
        "rating_count": 2,
        "your_rating": 5,
    }
    lowered = (await rate(api, template["id"], 1, "bob")).json()
    assert (lowered["rating"], lowered["rating_count"]) == (3.0, 2)
    shown = (await api.get(f"{BASE}/{template['id']}")).json()
    assert (shown["rating"], shown["rating_count"]) == (3.0, 2)
    assert await stored_ratings(api) == 2


async def test_a_template_is_rated_as_a_whole_across_versions(api: AdminApi) -> None:
    first = await create(api)
    await rate(api, first["id"], 4)
    second = (await api.put(f"{BASE}/{first['id']}", json={"description": "v2"})).json()
    assert second["version"] == 2
    assert (second["rating"], second["rating_count"]) == (4.0, 1)

    by_old_id = (await rate(api, first["id"], 2, "bob")).json()
    assert by_old_id["template_id"] == second["id"]
    assert (by_old_id["rating"], by_old_id["rating_count"]) == (3.0, 2)
    replaced = (await rate(api, second["id"], 2)).json()
    assert (replaced["rating"], replaced["rating_count"]) == (2.0, 2)
    latest = (await api.get(f"{BASE}/{second['id']}")).json()
    assert (latest["rating"], latest["rating_count"]) == (2.0, 2)
    stats = (await api.get(f"/api/stats/templates/{first['id']}")).json()
    assert (stats["rating"], stats["rating_count"]) == (2.0, 2)


@pytest.mark.parametrize("wrong", [0, 6, "five", 4.5, None])
async def test_a_bad_rating_is_refused_and_changes_nothing(api: AdminApi, wrong: Any) -> None:
    template = await create(api)
    await rate(api, template["id"], 4)
    refused = await rate(api, template["id"], wrong)
    assert refused.status_code == 422
    assert error_of(refused)["details"][0]["field"] == "rating"
    shown = (await api.get(f"{BASE}/{template['id']}")).json()
    assert (shown["rating"], shown["rating_count"]) == (4.0, 1)


async def test_another_owners_private_template_cannot_be_rated(api: AdminApi) -> None:
    private = await create(api, public=False)
    response = await rate(api, private["id"], 5, "bob")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    missing = await rate(api, "01JNOSUCHTEMPLATE000000000", 5)
    assert missing.status_code == 404
    assert await stored_ratings(api) == 0


async def test_concurrent_ratings_of_many_users_all_count(api: AdminApi) -> None:
    template = await create(api)
    raters = [f"rater{number}" for number in range(8)]
    for name in raters:
        api.keys[name] = await setup.create_user_with_key(api.runtime.db_sessions, username=name)
    stars = [1 + number % 5 for number in range(len(raters))]
    answers = await asyncio.gather(
        *(rate(api, template["id"], star, name) for name, star in zip(raters, stars, strict=True))
    )
    assert [answer.status_code for answer in answers] == [200] * len(raters)
    shown = (await api.get(f"{BASE}/{template['id']}")).json()
    assert shown["rating_count"] == len(raters)
    assert shown["rating"] == pytest.approx(sum(stars) / len(stars))
    assert max(answer.json()["rating_count"] for answer in answers) == len(raters)


async def test_purging_a_template_removes_its_ratings(api: AdminApi) -> None:
    template = await create(api)
    await rate(api, template["id"], 3)
    await rate(api, template["id"], 5, "bob")
    purged = await api.delete(f"{BASE}/{template['id']}", params={"purge": "true"})
    assert purged.status_code == 200
    assert await stored_ratings(api) == 0
