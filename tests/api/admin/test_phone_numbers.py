"""``/api/phone-numbers``: every user connects their own WhatsApp numbers and tokens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from convoflow.encryption import load_token_cipher
from convoflow.store.models import PhoneNumber
from tests.api.admin.conftest import BUSINESS_NUMBER, AdminApi, connect_number, error_of

BASE = "/api/phone-numbers"
ALICE_NUMBER = "15551110000"
SECRET_TOKEN = "EAAG-alice-secret-token-0123456789"


async def stored_row(api: AdminApi, phone_number_id: str) -> PhoneNumber | None:
    async with api.runtime.db_sessions() as db_session:
        return await db_session.scalar(
            select(PhoneNumber).where(PhoneNumber.phone_number_id == phone_number_id)
        )


async def test_a_user_connects_reads_changes_and_removes_a_number(api: AdminApi) -> None:
    created = await api.post(
        BASE,
        json={
            "phone_number_id": ALICE_NUMBER,
            "waba_id": "102290129340398",
            "display_phone_number": "+1 555-111-0000",
            "messaging_limit_tier": "TIER_250",
            "access_token": SECRET_TOKEN,
        },
    )
    assert created.status_code == 201, created.text
    number = created.json()
    assert {
        key: number[key] for key in number if key not in ("id", "created_at", "updated_at")
    } == {
        "owner_id": (await api.get("/api/me")).json()["id"],
        "phone_number_id": ALICE_NUMBER,
        "waba_id": "102290129340398",
        "display_phone_number": "+1 555-111-0000",
        "messaging_limit_tier": "TIER_250",
        "has_access_token": True,
        "access_token_kind": "encrypted",
        "access_token_env": None,
    }
    assert (await api.get(f"{BASE}/{number['id']}")).json() == number
    assert (await api.get(f"{BASE}/{ALICE_NUMBER}")).json() == number  # by phone_number_id too
    listed = (await api.get(BASE)).json()
    assert listed == {"items": [number], "total": 1, "limit": 50, "offset": 0}

    changed = await api.patch(
        f"{BASE}/{number['id']}",
        json={"messaging_limit_tier": "TIER_10K", "waba_id": None, "access_token_env": "WA_ALICE"},
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["messaging_limit_tier"], after["waba_id"]) == ("TIER_10K", None)
    assert (after["access_token_kind"], after["access_token_env"]) == ("env", "WA_ALICE")
    assert after["display_phone_number"] == "+1 555-111-0000"  # left out: kept
    row = await stored_row(api, ALICE_NUMBER)
    assert row is not None and row.access_token_encrypted is None  # replaced, not kept

    removed = await api.delete(f"{BASE}/{number['id']}")
    assert (removed.status_code, removed.content) == (204, b"")
    assert (await api.get(f"{BASE}/{number['id']}")).status_code == 404
    assert (await api.get(BASE)).json()["total"] == 0
    assert await stored_row(api, ALICE_NUMBER) is None


async def test_the_token_is_stored_encrypted_and_never_answered(api: AdminApi) -> None:
    responses = [
        await api.post(BASE, json={"phone_number_id": ALICE_NUMBER, "access_token": SECRET_TOKEN})
    ]
    number_id = responses[0].json()["id"]
    responses += [
        await api.get(BASE),
        await api.get(f"{BASE}/{number_id}"),
        await api.patch(f"{BASE}/{number_id}", json={"access_token": SECRET_TOKEN + "-new"}),
        await api.patch(f"{BASE}/{number_id}", json={"display_phone_number": "15551110000"}),
        await api.patch(f"{BASE}/{number_id}", json={"access_token": "has a space"}),
        await api.get("/openapi.json"),
    ]

    for response in responses:
        assert SECRET_TOKEN not in response.text
        assert "has a space" not in response.text
    assert [response.status_code for response in responses] == [201, 200, 200, 200, 200, 422, 200]
    row = await stored_row(api, ALICE_NUMBER)
    assert row is not None and row.access_token_encrypted is not None
    assert SECRET_TOKEN not in row.access_token_encrypted
    assert api.runtime.token_cipher.decrypt(row.access_token_encrypted) == SECRET_TOKEN + "-new"


async def test_another_owners_number_is_not_found_and_its_id_is_taken(api: AdminApi) -> None:
    number = await connect_number(api, ALICE_NUMBER)

    for reference in (number["id"], ALICE_NUMBER):
        assert (await api.get(f"{BASE}/{reference}", user="bob")).status_code == 404
        patched = await api.patch(f"{BASE}/{reference}", user="bob", json={"waba_id": "1"})
        assert patched.status_code == 404
        assert (await api.delete(f"{BASE}/{reference}", user="bob")).status_code == 404
    taken = await api.post(
        BASE, user="bob", json={"phone_number_id": ALICE_NUMBER, "access_token_env": "WA_BOB"}
    )
    assert taken.status_code == 409
    assert error_of(taken)["message"] == f"phone_number_id {ALICE_NUMBER} is already registered"
    assert (await api.get(BASE, user="bob")).json()["total"] == 0
    assert (await api.get(f"{BASE}/{number['id']}")).json() == number  # untouched


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone_number_id": ALICE_NUMBER}, "access_token"),
        (
            {"phone_number_id": ALICE_NUMBER, "access_token": "t", "access_token_env": "WA_X"},
            "access_token_env",
        ),
        ({"phone_number_id": "+15551110000", "access_token": "t"}, "phone_number_id"),
        ({"phone_number_id": "", "access_token": "t"}, "phone_number_id"),
        ({"access_token": "t"}, "phone_number_id"),
        ({"phone_number_id": ALICE_NUMBER, "access_token": "two words"}, "access_token"),
        ({"phone_number_id": ALICE_NUMBER, "access_token": ""}, "access_token"),
        ({"phone_number_id": ALICE_NUMBER, "access_token_env": "1ST"}, "access_token_env"),
        (
            {"phone_number_id": ALICE_NUMBER, "access_token_env": "CONVOFLOW_SECRET_KEY"},
            "access_token_env",
        ),
        (
            {"phone_number_id": ALICE_NUMBER, "access_token": "t", "messaging_limit_tier": "BIG"},
            "messaging_limit_tier",
        ),
        ({"phone_number_id": ALICE_NUMBER, "access_token": "t", "waba_id": "waba"}, "waba_id"),
        (
            {"phone_number_id": ALICE_NUMBER, "access_token": "t", "display_phone_number": "call"},
            "display_phone_number",
        ),
        ({"phone_number_id": ALICE_NUMBER, "access_token": "t", "owner_id": "x"}, "owner_id"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    api: AdminApi, body: dict[str, Any], field: str
) -> None:
    refused = await api.post(BASE, json=body)

    assert refused.status_code == 422, refused.text
    assert field in [detail["field"] for detail in error_of(refused)["details"]]
    assert (await api.get(BASE)).json()["total"] == 0


async def test_bad_changes_are_refused_and_change_nothing(api: AdminApi) -> None:
    number = await connect_number(api, ALICE_NUMBER, messaging_limit_tier="TIER_1K")
    path = f"{BASE}/{number['id']}"

    for body, field in [
        ({"display_phone_number": None}, "display_phone_number"),
        ({"access_token": "t", "access_token_env": "WA_ALICE"}, "access_token_env"),
        ({"access_token_env": "convoflow_whatsapp_access_token"}, "access_token_env"),
        (
            {"messaging_limit_tier": "TIER_1K", "access_token_env": "CONVOFLOW_X"},
            "access_token_env",
        ),
        ({"phone_number_id": "15559990000"}, "phone_number_id"),
    ]:
        refused = await api.patch(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert [detail["field"] for detail in error_of(refused)["details"]] == [field]

    assert (await api.get(path)).json() == number


async def test_lists_are_paged(api: AdminApi) -> None:
    numbers = [await connect_number(api, f"1555111000{n}") for n in range(3)]

    first = (await api.get(BASE, params={"limit": 2})).json()
    second = (await api.get(BASE, params={"limit": 2, "offset": 2})).json()

    assert [item["id"] for item in first["items"] + second["items"]] == [n["id"] for n in numbers]
    assert (first["total"], first["limit"], second["offset"]) == (3, 2, 2)
    assert (await api.get(BASE, params={"limit": 0})).status_code == 422
    assert (await api.get(BASE, params={"limit": 201})).status_code == 422


async def test_a_removed_token_falls_back_to_the_servers_only_for_its_own_number(
    api: AdminApi,
) -> None:
    server_number = await connect_number(api, BUSINESS_NUMBER, user="admin")
    alice_number = await connect_number(api, ALICE_NUMBER)

    server_after = await api.patch(
        f"{BASE}/{server_number['id']}", user="admin", json={"access_token": None}
    )
    alice_after = await api.patch(f"{BASE}/{alice_number['id']}", json={"access_token_env": None})

    assert (server_after.json()["has_access_token"], server_after.json()["access_token_kind"]) == (
        True,
        "settings",
    )
    assert (alice_after.json()["has_access_token"], alice_after.json()["access_token_kind"]) == (
        False,
        None,
    )


async def test_without_a_secret_key_postgres_refuses_encrypted_tokens_naming_the_setting(
    api: AdminApi,
) -> None:
    api.runtime.token_cipher = load_token_cipher("", "postgresql+asyncpg://db.example/convoflow")

    refused = await api.post(BASE, json={"phone_number_id": ALICE_NUMBER, "access_token": "t"})
    by_env = await api.post(
        BASE, json={"phone_number_id": ALICE_NUMBER, "access_token_env": "WA_ALICE"}
    )

    assert refused.status_code == 422
    [detail] = error_of(refused)["details"]
    assert detail["field"] == "access_token"
    assert "CONVOFLOW_SECRET_KEY is not set" in detail["message"]
    assert by_env.status_code == 201, by_env.text
