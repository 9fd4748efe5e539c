"""`standard-webhooks`: our signatures verify with the official `standardwebhooks` package."""

from __future__ import annotations

import base64
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from signet_sdk.signing import standard_webhooks
from signet_sdk.signing.errors import InvalidSecretError, SignatureError, TimestampError

bodies = st.text(max_size=2000).map(str.encode)
msg_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40)
keys = st.integers(24, 64).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@settings(max_examples=150, deadline=None)
@given(key=keys, msg_id=msg_ids, body=bodies)
def test_round_trip_verifies_with_the_official_library(
    key: bytes, msg_id: str, body: bytes
) -> None:
    secret = whsec(key)
    timestamp = int(time.time())
    headers = standard_webhooks.sign([secret], msg_id, timestamp, body)

    assert headers["webhook-id"] == msg_id
    assert headers["webhook-timestamp"] == str(timestamp)
    Webhook(secret).verify(body, headers, json_parse=False)
    standard_webhooks.verify(secret, headers, body)


@settings(max_examples=50, deadline=None)
@given(old=keys, new=keys, other=keys, body=bodies)
def test_rotation_both_secrets_verify(old: bytes, new: bytes, other: bytes, body: bytes) -> None:
    headers = standard_webhooks.sign([whsec(new), whsec(old)], "evt_1", int(time.time()), body)

    assert len(headers["webhook-signature"].split(" ")) == 2
    for key in (new, old):
        Webhook(whsec(key)).verify(body, headers, json_parse=False)
        standard_webhooks.verify(whsec(key), headers, body)
    # HMAC zero-pads keys to its block size, so keys differing only in trailing zero
    # bytes are the same key.
    if other.rstrip(b"\0") not in (old.rstrip(b"\0"), new.rstrip(b"\0")):
        with pytest.raises(WebhookVerificationError):
            Webhook(whsec(other)).verify(body, headers, json_parse=False)
        with pytest.raises(SignatureError):
            standard_webhooks.verify(whsec(other), headers, body)


def test_tampering_fails() -> None:
    secret = standard_webhooks.generate_secret().secret
    body = b'{"id":"evt_1","type":"order.completed"}'
    now = int(time.time())
    headers = standard_webhooks.sign([secret], "evt_1", now, body)

    tampered_body = body.replace(b"completed", b"cancelled")
    moved_time = {**headers, "webhook-timestamp": str(now - 1)}
    other_id = {**headers, "webhook-id": "evt_2"}
    for h, b in ((headers, tampered_body), (moved_time, body), (other_id, body)):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(b, h, json_parse=False)
        with pytest.raises(SignatureError):
            standard_webhooks.verify(secret, h, b)
    wrong = standard_webhooks.generate_secret().secret
    with pytest.raises(SignatureError):
        standard_webhooks.verify(wrong, headers, body)


def test_timestamp_tolerance() -> None:
    secret = standard_webhooks.generate_secret().secret
    now = 1_700_000_000
    headers = standard_webhooks.sign([secret], "evt_1", now - 301, b"{}")
    with pytest.raises(TimestampError):
        standard_webhooks.verify(secret, headers, b"{}", now=now)
    standard_webhooks.verify(secret, headers, b"{}", now=now, tolerance_seconds=400)
    future = standard_webhooks.sign([secret], "evt_1", now + 301, b"{}")
    with pytest.raises(TimestampError):
        standard_webhooks.verify(secret, future, b"{}", now=now)


def test_missing_or_garbled_headers_fail_cleanly() -> None:
    secret = standard_webhooks.generate_secret().secret
    headers = standard_webhooks.sign([secret], "evt_1", int(time.time()), b"{}")
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in headers.items() if k != name}
        with pytest.raises(SignatureError, match=name):
            standard_webhooks.verify(secret, partial, b"{}")
    for garbled in ("v1,not base64!", "v2," + headers["webhook-signature"][3:], "junk"):
        with pytest.raises(SignatureError):
            standard_webhooks.verify(secret, {**headers, "webhook-signature": garbled}, b"{}")
    with pytest.raises(SignatureError, match="integer"):
        standard_webhooks.verify(secret, {**headers, "webhook-timestamp": "soon"}, b"{}")


def test_headers_are_case_insensitive() -> None:
    secret = standard_webhooks.generate_secret().secret
    headers = standard_webhooks.sign([secret], "evt_1", int(time.time()), b"{}")
    standard_webhooks.verify(secret, {k.title(): v for k, v in headers.items()}, b"{}")


def test_generated_secrets_are_accepted_by_the_official_library() -> None:
    material = standard_webhooks.generate_secret()
    assert material.secret.startswith("whsec_")
    assert len(base64.b64decode(material.secret[6:])) == 32
    assert material.public_key is None and material.shown == material.secret
    assert material.secret not in repr(material)
    assert standard_webhooks.generate_secret().secret != material.secret
    Webhook(material.secret)


@pytest.mark.parametrize("size", [24, 32, 64])
def test_validate_accepts_customer_secrets(size: int) -> None:
    secret = whsec(os.urandom(size))
    assert standard_webhooks.validate_secret(f"  {secret} ").secret == secret


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (whsec(os.urandom(23)), "24-64 bytes"),
        (whsec(os.urandom(65)), "24-64 bytes"),
        (base64.b64encode(os.urandom(32)).decode(), "whsec_"),
        ("whsec_!!!notbase64!!!", "base64"),
        ("", "whsec_"),
    ],
    # Fixed ids: the random secrets must not name the test (xdist workers compare names).
    ids=["23-bytes", "65-bytes", "no-prefix", "not-base64", "empty"],
)
def test_validate_refuses_bad_secrets(text: str, why: str) -> None:
    with pytest.raises(InvalidSecretError, match=why) as caught:
        standard_webhooks.validate_secret(text)
    if text:
        assert text not in str(caught.value)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(InvalidSecretError):
        standard_webhooks.sign([], "evt_1", 1, b"{}")
