"""`hmac-sha256`: Stripe-style signatures checked by a hand-written receiver."""

from __future__ import annotations

import hmac
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signet_sdk.signing import hmac_sha256
from signet_sdk.signing.errors import InvalidSecretError, SignatureError, TimestampError
from signet_sdk.signing.hmac_sha256 import Digest

plain_secrets = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF).filter(str.isprintable),
    min_size=16,
    max_size=80,
)


def stripe_style_check(secret: str, header: str, body: bytes, algorithm: str) -> bool:
    """A receiver's own check, written from the format description alone."""
    parts = [p.split("=", 1) for p in header.split(",")]
    timestamp = next(v for k, v in parts if k == "t")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, algorithm).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


@settings(max_examples=150, deadline=None)
@given(secret=plain_secrets, body=st.binary(max_size=2000), digest=st.sampled_from(Digest))
def test_round_trip(secret: str, body: bytes, digest: Digest) -> None:
    timestamp = int(time.time())
    headers = hmac_sha256.sign([secret], "evt_1", timestamp, body, digest=digest)
    header = headers["signet-signature"]

    assert header.startswith(f"t={timestamp},v1=")
    assert stripe_style_check(secret, header, body, digest.value)
    hmac_sha256.verify(secret, headers, body, digest=digest)


def test_sha512_is_not_sha256() -> None:
    secret = "a-customer-chosen-secret"
    headers = hmac_sha256.sign([secret], "evt_1", int(time.time()), b"{}", digest=Digest.SHA512)
    assert len(headers["signet-signature"].split("v1=")[1]) == 128
    with pytest.raises(SignatureError):
        hmac_sha256.verify(secret, headers, b"{}")


def test_rotation_and_tampering() -> None:
    new, old = "the-new-secret-0123456789", "the-old-secret-0123456789"
    now = int(time.time())
    body = b'{"type":"order.completed"}'
    headers = hmac_sha256.sign([new, old], "evt_1", now, body)
    assert headers["signet-signature"].count("v1=") == 2
    for secret in (new, old):
        assert stripe_style_check(secret, headers["signet-signature"], body, "sha256")
        hmac_sha256.verify(secret, headers, body)
    with pytest.raises(SignatureError):
        hmac_sha256.verify("a-stranger-secret-0123456789", headers, body)
    with pytest.raises(SignatureError):
        hmac_sha256.verify(new, headers, body + b" ")
    moved = headers["signet-signature"].replace(f"t={now}", f"t={now - 1}")
    with pytest.raises(SignatureError):
        hmac_sha256.verify(new, {"signet-signature": moved}, body)
    with pytest.raises(TimestampError):
        hmac_sha256.verify(new, headers, body, now=now + 301)
    for garbled in ("v1=abc", f"t={now},t={now},v1=abc", "t=soon,v1=abc"):
        with pytest.raises(SignatureError):
            hmac_sha256.verify(new, {"signet-signature": garbled}, body)


def test_secret_rules() -> None:
    assert hmac_sha256.validate_secret("0123456789abcdef").secret == "0123456789abcdef"
    generated = hmac_sha256.generate_secret()
    assert len(generated.secret) >= 16 and hmac_sha256.validate_secret(generated.secret)
    for bad in ("too-short", " padded-secret-0123456789", "tab\tinside-0123456789", "x" * 513):
        with pytest.raises(InvalidSecretError):
            hmac_sha256.validate_secret(bad)
