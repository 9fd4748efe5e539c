"""The registry the dispatcher and portal call: every scheme by its name."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signet_sdk.signing import (
    SCHEMES,
    InvalidSecretError,
    SignatureError,
    UnknownSchemeError,
    generate_secret,
    sign_delivery,
    validate_secret,
    verify_delivery,
)
from signet_sdk.signing.schemes import SignatureScheme


def test_every_scheme_is_registered() -> None:
    assert set(SCHEMES) == set(SignatureScheme)


@settings(max_examples=80, deadline=None)
@given(scheme=st.sampled_from(SignatureScheme), body=st.binary(max_size=500))
def test_sign_then_verify_with_what_the_customer_holds(
    scheme: SignatureScheme, body: bytes
) -> None:
    material = generate_secret(scheme)
    headers = sign_delivery(scheme, [material.secret.encode()], "evt_9", int(time.time()), body)

    assert headers["webhook-id"] == "evt_9"
    verify_delivery(scheme, material.shown, headers, body)
    with pytest.raises(SignatureError):
        verify_delivery(scheme, material.shown, headers, body + b"!")


@pytest.mark.parametrize("scheme", list(SignatureScheme))
def test_a_secret_of_another_destination_does_not_verify(scheme: SignatureScheme) -> None:
    mine, theirs = generate_secret(scheme), generate_secret(scheme)
    headers = sign_delivery(scheme, [mine.secret], "evt_1", int(time.time()), b"{}")
    with pytest.raises(SignatureError):
        verify_delivery(scheme, theirs.shown, headers, b"{}")


def test_validate_round_trips_generated_secrets() -> None:
    for scheme in SignatureScheme:
        material = generate_secret(scheme)
        assert validate_secret(scheme, material.secret) == material


def test_unknown_scheme_and_missing_secret() -> None:
    with pytest.raises(UnknownSchemeError, match="standard-webhooks"):
        sign_delivery("rot13", ["x"], "evt_1", 1, b"{}")
    with pytest.raises(UnknownSchemeError):
        generate_secret("rot13")
    with pytest.raises(InvalidSecretError):
        sign_delivery("standard-webhooks", [], "evt_1", 1, b"{}")
    with pytest.raises(InvalidSecretError):
        sign_delivery("standard-webhooks", ["not-a-whsec"], "evt_1", 1, b"{}")
