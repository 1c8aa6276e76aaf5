"""Signing and verifying deliveries: pure functions, no database, no network."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.errors import WebhookVerificationFailed
from calmesh.webhooks.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    SECRET_PREFIX,
    SIGNATURE_HEADER,
    generate_secret,
    sign,
    verify_signature,
)

NOW = 1_760_000_000
BODY = b'{"id":"wev_1","type":"event.created","data":{}}'

secret_text = st.text(min_size=1, max_size=40)


def test_the_header_name_and_shape() -> None:
    assert SIGNATURE_HEADER == "Calmesh-Signature"
    header = sign(BODY, ["whsec_a", "whsec_b"], NOW)
    parts = header.split(",")
    assert parts[0] == f"t={NOW}"
    assert [p[:3] for p in parts[1:]] == ["v1=", "v1="]
    assert all(len(p) == 3 + 64 and p[3:] == p[3:].lower() for p in parts[1:])


def test_a_signature_is_a_plain_hmac_any_receiver_can_compute() -> None:
    secret = "whsec_plain"
    expected = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, [secret], NOW) == f"t={NOW},v1={expected}"


def test_verify_returns_the_signed_timestamp() -> None:
    assert verify_signature(BODY, sign(BODY, ["whsec_x"], NOW), "whsec_x", now=NOW + 10) == NOW


def test_each_active_secret_alone_verifies_and_others_do_not() -> None:
    old, new = generate_secret(), generate_secret()
    header = sign(BODY, [new, old], NOW)
    assert verify_signature(BODY, header, old, now=NOW) == NOW
    assert verify_signature(BODY, header, [new], now=NOW) == NOW
    assert verify_signature(BODY, header, ["whsec_unrelated", old], now=NOW) == NOW
    with pytest.raises(WebhookVerificationFailed, match="no signature matches"):
        verify_signature(BODY, header, generate_secret(), now=NOW)
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(BODY, header, [], now=NOW)


def test_a_changed_body_or_timestamp_is_refused() -> None:
    header = sign(BODY, ["whsec_x"], NOW)
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(BODY + b" ", header, "whsec_x", now=NOW)
    # Moving the timestamp (to dodge the tolerance) breaks the signature.
    moved = header.replace(f"t={NOW}", f"t={NOW + 600}")
    with pytest.raises(WebhookVerificationFailed, match="no signature matches"):
        verify_signature(BODY, moved, "whsec_x", now=NOW + 600)


def test_the_timestamp_tolerance() -> None:
    header = sign(BODY, ["whsec_x"], NOW)
    assert verify_signature(BODY, header, "whsec_x", now=NOW + DEFAULT_TOLERANCE_SECONDS) == NOW
    assert verify_signature(BODY, header, "whsec_x", now=NOW - DEFAULT_TOLERANCE_SECONDS) == NOW
    for now in (NOW + 600, NOW - 600, NOW + DEFAULT_TOLERANCE_SECONDS + 1):
        with pytest.raises(WebhookVerificationFailed, match="tolerance"):
            verify_signature(BODY, header, "whsec_x", now=now)
    assert verify_signature(BODY, header, "whsec_x", now=NOW + 600, tolerance_seconds=900) == NOW
    # Without `now`, the clock is used: a fresh header passes, a ten-minute-old one does not.
    fresh = int(time.time())
    assert verify_signature(BODY, sign(BODY, ["whsec_x"], fresh), "whsec_x") == fresh
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(BODY, sign(BODY, ["whsec_x"], fresh - 600), "whsec_x")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=abc,v1=x",
        f"t={NOW}",
        f"t={NOW},v1=",
        f"t={NOW},v0=abcd",
        "v1=abcd",
        f"t=-{NOW},v1=abcd",
        "garbage",
        ",,,",
        "t=\u00b2,v1=abcd",  # a digit to str.isdigit, not to int()
        "t=\u0661\u0662,v1=abcd",  # Arabic-Indic digits are not a Unix timestamp
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(BODY, header, "whsec_x", now=NOW)


def test_unknown_schemes_and_spaces_are_tolerated_next_to_v1() -> None:
    good = sign(BODY, ["whsec_x"], NOW)
    t, v1 = good.split(",")
    assert verify_signature(BODY, f"{t}, v0=dead, {v1}", "whsec_x", now=NOW) == NOW


def test_generated_secrets() -> None:
    secrets = {generate_secret() for _ in range(500)}
    assert len(secrets) == 500
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX) and secret.startswith("whsec_")
        assert len(secret) >= len(SECRET_PREFIX) + 43  # 32 random bytes, base64
        assert secret.isascii() and secret.isprintable() and "," not in secret


@given(body=st.binary(max_size=2000), secrets=st.lists(secret_text, min_size=1, max_size=4), timestamp=st.integers(0, 2**40))
def test_property_every_secret_verifies_its_body(body: bytes, secrets: list[str], timestamp: int) -> None:
    header = sign(body, secrets, timestamp)
    assert header.count("v1=") == len(secrets)
    for secret in secrets:
        assert verify_signature(body, header, secret, now=timestamp) == timestamp


@given(
    body=st.binary(min_size=1, max_size=500),
    secrets=st.lists(secret_text, min_size=1, max_size=3),
    data=st.data(),
)
def test_property_flipping_any_byte_of_the_body_fails(body: bytes, secrets: list[str], data: st.DataObject) -> None:
    header = sign(body, secrets, NOW)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    for secret in secrets:
        with pytest.raises(WebhookVerificationFailed):
            verify_signature(tampered, header, secret, now=NOW)
    with pytest.raises(WebhookVerificationFailed):
        verify_signature(tampered, header, secrets, now=NOW)


headers = st.one_of(
    st.text(max_size=200),
    st.builds(lambda t, v: f"t={t},v1={v}", st.text(max_size=20), st.text(max_size=70)),
)


@given(header=headers, body=st.binary(max_size=50))
def test_property_any_header_is_accepted_or_refused_never_crashes(header: str, body: bytes) -> None:
    try:
        verify_signature(body, header, "whsec_x", now=NOW)
    except WebhookVerificationFailed:
        pass
