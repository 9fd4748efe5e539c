"""The dispatcher's key lookup: what it opens follows the destination as it is now, even
though opened secrets are remembered between attempts."""

from __future__ import annotations

import dataclasses

import pytest

from services.dispatcher.signing_keys import SigningKeys
from signet.errors import SecretError
from signet.records.model import Destination, SigningSecret
from signet.security.secrets import MasterKeyRing, generate_master_key, secret_aad

NOW = 1_800_000_000_000
WS = "ws_keys"
RING = MasterKeyRing.parse(generate_master_key())


def sealed_secret(
    sid: str, plain: bytes, created_at: int, *, destination_id: str = "dst_k"
) -> SigningSecret:
    return SigningSecret(
        id=sid,
        sealed=RING.seal(plain, secret_aad(WS, destination_id)),
        hint="…x",
        created_at=created_at,
    )


def destination(*secrets: SigningSecret) -> Destination:
    return Destination(
        id="dst_k",
        type="webhook",
        name="d",
        created_at=NOW,
        updated_at=NOW,
        url="https://hooks.example.com/in",
        secrets=list(secrets),
    )


def test_a_rotation_applies_to_the_next_attempt_and_the_overlap_ends_on_time() -> None:
    keys = SigningKeys(RING)
    first = sealed_secret("sec_1", b"first", NOW - 1000)
    assert keys.for_destination(WS, destination(first), NOW) == [b"first"]
    assert keys.for_destination(WS, destination(first), NOW) == [b"first"]  # remembered

    overlapping = dataclasses.replace(first, expires_at=NOW + 60_000)
    rotated = destination(sealed_secret("sec_2", b"second", NOW), overlapping)
    assert keys.for_destination(WS, rotated, NOW) == [b"second", b"first"]
    assert keys.for_destination(WS, rotated, NOW + 60_001) == [b"second"]


def test_a_secret_that_does_not_open_fails_every_time() -> None:
    keys = SigningKeys(RING)
    # Sealed for another destination: its AAD does not match this one.
    foreign = sealed_secret("sec_x", b"elsewhere", NOW, destination_id="dst_other")
    for _ in range(2):
        with pytest.raises(SecretError):
            keys.for_destination(WS, destination(foreign), NOW)
