"""`standard-webhooks-ed25519`: signatures verified independently with `cryptography`."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from signet_sdk.signing import ed25519
from signet_sdk.signing.errors import InvalidSecretError, SignatureError, TimestampError


def independent_verify(public_key: str, headers: dict[str, str], body: bytes) -> None:
    """What a receiver does with only `cryptography` and the spec; raises on mismatch."""
    assert public_key.startswith("whpk_")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[5:]))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for entry in headers["webhook-signature"].split(" "):
        version, signature = entry.split(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), content)
        except InvalidSignature:
            continue
        return
    raise InvalidSignature("no v1a entry matches")


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=2000), msg_id=st.text(min_size=1, max_size=30).filter(str.isprintable)
)
def test_round_trip(body: bytes, msg_id: str) -> None:
    pair = ed25519.generate_secret()
    assert pair.public_key is not None
    timestamp = int(time.time())
    headers = ed25519.sign([pair.secret], msg_id, timestamp, body)

    assert headers["webhook-signature"].startswith("v1a,")
    independent_verify(pair.public_key, headers, body)
    ed25519.verify(pair.public_key, headers, body)


def test_rotation_both_keys_verify_and_a_stranger_does_not() -> None:
    new, old, stranger = (ed25519.generate_secret() for _ in range(3))
    body = b'{"type":"order.completed"}'
    headers = ed25519.sign([new.secret, old.secret], "evt_1", int(time.time()), body)
    for pair in (new, old):
        assert pair.public_key is not None
        independent_verify(pair.public_key, headers, body)
        ed25519.verify(pair.public_key, headers, body)
    assert stranger.public_key is not None
    with pytest.raises(InvalidSignature):
        independent_verify(stranger.public_key, headers, body)
    with pytest.raises(SignatureError):
        ed25519.verify(stranger.public_key, headers, body)


def test_tampering_fails() -> None:
    pair = ed25519.generate_secret()
    assert pair.public_key is not None
    now = int(time.time())
    body = b'{"amount":100}'
    headers = ed25519.sign([pair.secret], "evt_1", now, body)
    cases = [
        (headers, b'{"amount":999}'),
        ({**headers, "webhook-timestamp": str(now + 1)}, body),
        ({**headers, "webhook-id": "evt_2"}, body),
    ]
    for h, b in cases:
        with pytest.raises(InvalidSignature):
            independent_verify(pair.public_key, h, b)
        with pytest.raises(SignatureError):
            ed25519.verify(pair.public_key, h, b)
    with pytest.raises(TimestampError):
        ed25519.verify(pair.public_key, headers, body, now=now + 600)


def test_key_forms() -> None:
    pair = ed25519.generate_secret()
    assert pair.secret.startswith("whsk_") and len(base64.b64decode(pair.secret[5:])) == 32
    assert pair.shown == pair.public_key
    assert pair.secret not in repr(pair)
    # a private key supplied by a customer migrating from another sender
    again = ed25519.validate_secret(pair.secret)
    assert again.public_key == pair.public_key
    with pytest.raises(InvalidSecretError, match="public key"):
        ed25519.validate_secret(str(pair.public_key))
    with pytest.raises(InvalidSecretError):
        ed25519.validate_secret("whsk_" + base64.b64encode(b"short").decode())
    with pytest.raises(InvalidSecretError):
        ed25519.verify("whpk_AAAA", {}, b"")
