"""`hmac-sha512`: the `hmac-sha256` format with HMAC-SHA512, chosen as its own scheme."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from signet_sdk.signing import (
    InvalidSecretError,
    SignatureError,
    generate_secret,
    sign_delivery,
    validate_secret,
    verify_delivery,
)

SCHEME = "hmac-sha512"
BODY = b'{"id":"evt_1","type":"order.completed"}'


def test_sign_then_verify() -> None:
    secret = generate_secret(SCHEME).secret
    headers = sign_delivery(SCHEME, [secret], "evt_1", int(time.time()), BODY)
    assert headers["webhook-id"] == "evt_1"
    verify_delivery(SCHEME, secret, headers, BODY)
    with pytest.raises(SignatureError):
        verify_delivery(SCHEME, secret, headers, BODY + b" ")
    with pytest.raises(SignatureError):
        verify_delivery("hmac-sha256", secret, headers, BODY)


def test_matches_a_hand_written_hmac_sha512() -> None:
    secret, ts = "a-customer-chosen-secret", int(time.time())
    headers = sign_delivery(SCHEME, [secret], "evt_1", ts, BODY)
    key = secret.encode()
    expected = hmac.new(key, f"{ts}.".encode() + BODY, hashlib.sha512).hexdigest()
    assert headers["signet-signature"] == f"t={ts},v1={expected}"


def test_rotation_signs_with_both_secrets() -> None:
    new, old = "the-new-secret-0123456789", "the-old-secret-0123456789"
    ts = int(time.time())
    headers = sign_delivery(SCHEME, [new, old], "evt_1", ts, BODY)
    entries = headers["signet-signature"].split(",")
    assert entries[0] == f"t={ts}"
    assert [e[:3] for e in entries[1:]] == ["v1=", "v1="]
    for secret in (new, old):
        expected = hmac.new(secret.encode(), f"{ts}.".encode() + BODY, hashlib.sha512)
        assert f"v1={expected.hexdigest()}" in entries
        verify_delivery(SCHEME, secret, headers, BODY)
    with pytest.raises(SignatureError):
        verify_delivery(SCHEME, "a-stranger-secret-0123456789", headers, BODY)


def test_same_secret_rules_as_hmac_sha256() -> None:
    assert validate_secret(SCHEME, "0123456789abcdef").secret == "0123456789abcdef"
    for bad in ("too-short", " padded-secret-0123456789", "x" * 513):
        with pytest.raises(InvalidSecretError):
            validate_secret(SCHEME, bad)
