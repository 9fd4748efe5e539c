"""A destination's own name for its signature header (``signature_header``): the one-header
schemes send the same value under it, and verify from it; Standard Webhooks cannot."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from signet_sdk.signing import (
    SignatureError,
    UnknownSchemeError,
    renamable_header,
    scheme_of,
    sign_delivery,
    verify_delivery,
)
from signet_sdk.verify import WebhookVerifier

SECRET = "an-existing-receivers-secret"
BODY = b'{"type":"order.completed"}'


@pytest.mark.parametrize(
    ("scheme", "own"),
    [
        ("hmac-sha256", "signet-signature"),
        ("hmac-sha512", "signet-signature"),
        ("github", "x-hub-signature-256"),
    ],
)
def test_the_signature_travels_under_the_name_given(scheme: str, own: str) -> None:
    now = int(time.time())
    plain = sign_delivery(scheme, [SECRET], "evt_1", now, BODY)
    renamed = sign_delivery(scheme, [SECRET], "evt_1", now, BODY, signature_header="X-Acme-Sig")

    assert renamable_header(scheme_of(scheme)) == own
    assert renamed == {"x-acme-sig": plain[own], "webhook-id": "evt_1"}
    verify_delivery(scheme, SECRET, renamed, BODY, signature_header="x-acme-sig")
    WebhookVerifier(SECRET, scheme=scheme, signature_header="X-ACME-SIG").verify(renamed, BODY)
    # Looked for under the destination's name only: the scheme's own is not a fallback.
    with pytest.raises(SignatureError, match="missing x-acme-sig"):
        verify_delivery(scheme, SECRET, plain, BODY, signature_header="x-acme-sig")
    with pytest.raises(SignatureError):
        verify_delivery(scheme, SECRET, renamed, BODY)


@pytest.mark.parametrize(
    ("scheme", "own"), [("hmac-sha256", "Signet-Signature"), ("github", "x-hub-signature-256")]
)
def test_the_scheme_s_own_name_given_changes_nothing(scheme: str, own: str) -> None:
    now = int(time.time())
    plain = sign_delivery(scheme, [SECRET], "evt_1", now, BODY)
    assert sign_delivery(scheme, [SECRET], "evt_1", now, BODY, signature_header=own) == plain
    verify_delivery(scheme, SECRET, plain, BODY, signature_header=own)


def test_a_receiver_s_own_check_reads_the_renamed_header() -> None:
    """What a receiver migrated to Signet already runs: GitHub's format, its own name."""
    headers = sign_delivery(
        "github", [SECRET], "evt_1", 0, BODY, signature_header="X-Acme-Signature-256"
    )
    expected = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-acme-signature-256"], expected)


@pytest.mark.parametrize("scheme", ["standard-webhooks", "standard-webhooks-ed25519"])
def test_standard_webhooks_headers_cannot_be_renamed(scheme: str) -> None:
    with pytest.raises(UnknownSchemeError, match="fixed by its specification"):
        sign_delivery(scheme, [SECRET], "evt_1", 0, BODY, signature_header="x-acme")
    with pytest.raises(UnknownSchemeError):
        WebhookVerifier("whsec_" + "A" * 32, scheme=scheme, signature_header="x-acme")
