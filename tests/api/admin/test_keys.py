"""``/api/keys``: a caller's own API keys, the plain key shown once, revocation at once."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.store.models import ApiKey
from tests.api.admin.conftest import AdminApi, error_of

BASE = "/api/keys"


async def new_key(api: AdminApi, user: str = "alice", **body: Any) -> dict[str, Any]:
    response = await api.post(BASE, user=user, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def status_with(api: AdminApi, plain_key: str) -> int:
    """The status of a request made with ``plain_key``."""
    response = await api.client.get("/api/me", headers={"Authorization": f"Bearer {plain_key}"})
    return response.status_code


async def test_new_key_is_shown_once_and_works(
    api: AdminApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    created = await new_key(api, label="ci deploys")
    plain = created["key"]
    assert plain.startswith("cfk_") and len(plain) > 40
    assert created["prefix"] == plain[:12]
    assert created["label"] == "ci deploys"
    assert created["revoked"] is False and created["revoked_at"] is None
    assert created["last_used_at"] is None
    me = await api.client.get("/api/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.json()["username"] == "alice"

    listing = await api.get(BASE)
    assert listing.status_code == 200
    assert plain not in listing.text
    items = listing.json()["items"]
    assert all("key" not in item for item in items)
    mine = next(item for item in items if item["id"] == created["id"])
    assert mine["label"] == "ci deploys" and mine["last_used_at"] is not None
    # Every statement and its parameters were logged, and the plain key is in none of them.
    assert "FROM api_keys" in caplog.text
    assert plain not in caplog.text


async def test_only_a_hash_of_the_key_is_stored(api: AdminApi) -> None:
    created = await new_key(api)
    async with api.runtime.db_sessions() as db_session:
        row = (
            await db_session.execute(select(ApiKey).where(ApiKey.id == created["id"]))
        ).scalar_one()
    assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    stored = [str(getattr(row, column.key)) for column in ApiKey.__table__.columns]
    assert all(created["key"] not in value for value in stored)


async def test_body_is_optional_and_label_defaults_to_empty(api: AdminApi) -> None:
    response = await api.post(BASE)
    assert response.status_code == 201
    assert response.json()["label"] == ""


async def test_listing_is_paged_newest_first(api: AdminApi) -> None:
    made = [(await new_key(api, label=f"key {number}"))["id"] for number in range(3)]
    first = (await api.get(BASE, params={"limit": 2})).json()
    assert (first["total"], first["limit"], first["offset"]) == (4, 2, 0)
    second = (await api.get(BASE, params={"limit": 2, "offset": 2})).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids[:3] == list(reversed(made))  # then the key the user was created with
    assert len(set(ids)) == 4
    bob = (await api.get(BASE, user="bob")).json()
    assert bob["total"] == 1 and bob["items"][0]["id"] not in ids
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        refused = await api.get(BASE, params=bad)
        assert refused.status_code == 422
        assert error_of(refused)["details"][0]["field"] == next(iter(bad))


async def test_revoked_key_answers_401_on_the_very_next_request(api: AdminApi) -> None:
    other = await new_key(api, label="laptop")
    assert await status_with(api, other["key"]) == 200

    revoked = await api.delete(f"{BASE}/{other['id']}")
    assert revoked.status_code == 204 and revoked.content == b""
    refused = await api.client.get("/api/me", headers={"Authorization": f"Bearer {other['key']}"})
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "unauthorized"
    assert await status_with(api, api.keys["alice"]) == 200

    listed = {item["id"]: item for item in (await api.get(BASE)).json()["items"]}
    assert listed[other["id"]]["revoked"] is True
    revoked_at = listed[other["id"]]["revoked_at"]
    assert revoked_at is not None

    again = await api.delete(f"{BASE}/{other['id']}")
    assert again.status_code == 204
    listed = {item["id"]: item for item in (await api.get(BASE)).json()["items"]}
    assert listed[other["id"]]["revoked_at"] == revoked_at


async def test_revoking_the_key_in_use_is_allowed(api: AdminApi) -> None:
    spare = await new_key(api)
    headers = {"Authorization": f"Bearer {spare['key']}"}
    response = await api.client.delete(f"{BASE}/{spare['id']}", headers=headers)
    assert response.status_code == 204
    assert (await api.client.get(BASE, headers=headers)).status_code == 401
    assert (await api.client.delete(f"{BASE}/{spare['id']}", headers=headers)).status_code == 401


async def test_another_users_key_is_not_found_and_stays_valid(api: AdminApi) -> None:
    alices = await new_key(api)
    attempt = await api.delete(f"{BASE}/{alices['id']}", user="bob")
    assert attempt.status_code == 404
    assert error_of(attempt)["code"] == "not_found"
    assert await status_with(api, alices["key"]) == 200
    unknown = await api.delete(f"{BASE}/01JNOSUCHKEY0000000000000")
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"label": "x" * 201}, "label"), ({"label": 7}, "label"), ({"name": "ci"}, "name")],
)
async def test_bad_body_is_refused_and_creates_nothing(
    api: AdminApi, body: dict[str, Any], field: str
) -> None:
    before = (await api.get(BASE)).json()["total"]
    response = await api.post(BASE, json=body)
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == field
    assert (await api.get(BASE)).json()["total"] == before


async def test_nul_in_a_label_is_refused(api: AdminApi) -> None:
    response = await api.post(BASE, json={"label": "a\u0000b"})
    assert response.status_code == 422
    assert (await api.get(BASE)).json()["total"] == 1


async def test_keys_need_a_valid_key(api: AdminApi) -> None:
    for method in ("GET", "POST"):
        response = await api.call(method, BASE, user=None)
        assert response.status_code == 401
    response = await api.call("DELETE", f"{BASE}/anything", user=None)
    assert response.status_code == 401
