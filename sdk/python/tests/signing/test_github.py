"""`github`: ``x-hub-signature-256`` exactly as GitHub-compatible receivers check it."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signet_sdk.signing import github
from signet_sdk.signing.errors import SignatureError


def github_check(secret: str, header: str, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=2000))
def test_round_trip(body: bytes) -> None:
    secret = github.generate_secret().secret
    headers = github.sign([secret], "evt_1", 1, body)
    assert github_check(secret, headers["x-hub-signature-256"], body)
    github.verify(secret, headers, body)


def test_only_the_primary_signs_and_tampering_fails() -> None:
    new, old = "the-new-secret-0123456789", "the-old-secret-0123456789"
    headers = github.sign([new, old], "evt_1", 1, b"{}")
    assert github_check(new, headers["x-hub-signature-256"], b"{}")
    github.verify(new, headers, b"{}")
    with pytest.raises(SignatureError):
        github.verify(old, headers, b"{}")
    with pytest.raises(SignatureError):
        github.verify(new, headers, b"{ }")
    with pytest.raises(SignatureError):
        github.verify(new, {"x-hub-signature-256": "sha1=abc"}, b"{}")
    with pytest.raises(SignatureError):
        github.verify(new, {}, b"{}")
