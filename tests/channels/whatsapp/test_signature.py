"""X-Hub-Signature-256 verification and the GET verification handshake."""

from __future__ import annotations

import json

import pytest

from convoflow.channels.whatsapp.signature import sign, verify_handshake, verify_signature

SECRET = "test-app-secret"
# The reference test vector: 86 bytes exactly as Meta sent them.
BODY = b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[]}]}'
GOOD = "sha256=189fef98da61097aae3babf256a311b3197e8c8dcbc96bcd99c3576e25a3dba9"


def test_sign_matches_the_reference_vector() -> None:
    assert len(BODY) == 86
    assert sign(BODY, SECRET) == GOOD


def test_good_signature_verifies() -> None:
    assert verify_signature(BODY, GOOD, SECRET)


def test_signature_is_over_the_raw_bytes_not_reserialised_json() -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert sign(reserialised, SECRET) == (
        "sha256=b8b883e224f94ef7db0d97be339bf1e52d6a77eb7b84b5d076b9f4045013ec4d"
    )
    assert not verify_signature(reserialised, GOOD, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        GOOD[:-1] + "0",  # one hex digit off
        GOOD.removeprefix("sha256="),  # no prefix
        "sha1=" + GOOD.removeprefix("sha256="),  # wrong prefix
        "SHA256=" + GOOD.removeprefix("sha256="),
        "sha256=" + "é" * 64,  # non-ASCII must not raise
        GOOD + "00",
    ],
)
def test_bad_missing_or_wrongly_prefixed_signature_fails(header: str | None) -> None:
    assert not verify_signature(BODY, header, SECRET)


def test_wrong_secret_fails() -> None:
    assert not verify_signature(BODY, GOOD, "another-secret")


def test_empty_secret_never_verifies() -> None:
    assert not verify_signature(BODY, sign(BODY, ""), "")


def test_tampered_body_fails() -> None:
    assert not verify_signature(BODY.replace(b"changes", b"chang3s"), GOOD, SECRET)


def test_uppercase_hex_digest_is_accepted() -> None:
    assert verify_signature(BODY, "sha256=" + GOOD.removeprefix("sha256=").upper(), SECRET)


def test_handshake_echoes_the_challenge() -> None:
    assert verify_handshake("subscribe", "my-token", "1158201444", "my-token") == "1158201444"


@pytest.mark.parametrize(
    ("mode", "token", "challenge", "expected"),
    [
        ("subscribe", "wrong", "1158201444", "my-token"),
        ("unsubscribe", "my-token", "1158201444", "my-token"),
        (None, "my-token", "1158201444", "my-token"),
        ("subscribe", None, "1158201444", "my-token"),
        ("subscribe", "my-token", None, "my-token"),
        ("subscribe", "", "1158201444", ""),  # no verify token configured
        ("subscribe", "tökén", "1", "my-token"),
    ],
)
def test_handshake_refuses(
    mode: str | None, token: str | None, challenge: str | None, expected: str
) -> None:
    assert verify_handshake(mode, token, challenge, expected) is None
