"""A webhook destination's ``signature_header``: its rules on create and on PATCH."""

from __future__ import annotations

from typing import Any

import pytest
from signet_sdk.contract.fields import FieldErrors

from services.portal.signature_header import SIGNATURE_HEADER_MAX
from signet.records.model import Destination
from tests.services.portal.destination_bodies import (
    SLACK_URL,
    create,
    field_codes,
    field_errors,
    patch,
    webhook,
)

SECRET = "an-existing-receivers-secret"


def hooked(scheme: str = "github", **fields: Any) -> Destination:
    body = webhook(signature_scheme=scheme, secret=SECRET, **fields)
    return create(body).destination


def patch_codes(current: Destination, body: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        patch(current, body)
    return {e.field: e.code.value for e in caught.value.errors}


@pytest.mark.parametrize("scheme", ["github", "hmac-sha256", "hmac-sha512"])
def test_a_one_header_scheme_sends_its_signature_under_the_name_given(scheme: str) -> None:
    destination = hooked(scheme, signature_header="X-Acme-Signature")
    assert destination.signature_header == "x-acme-signature"
    assert hooked(scheme).signature_header is None


@pytest.mark.parametrize(
    ("scheme", "own"), [("github", "X-Hub-Signature-256"), ("hmac-sha256", "Signet-Signature")]
)
def test_the_scheme_s_own_name_is_the_default(scheme: str, own: str) -> None:
    assert hooked(scheme, signature_header=own).signature_header is None


@pytest.mark.parametrize("scheme", ["standard-webhooks", "standard-webhooks-ed25519"])
def test_standard_webhooks_headers_cannot_be_renamed(scheme: str) -> None:
    body = webhook(signature_scheme=scheme, signature_header="x-acme-signature")
    errors = field_errors(body)
    assert set(errors) == {"signature_header"}
    assert "fixed by the Standard Webhooks specification" in errors["signature_header"]
    assert field_codes(body) == {"signature_header": "invalid"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("x acme", "format"),
        ("x-acme:sig", "format"),
        ("", "format"),
        ("x" * (SIGNATURE_HEADER_MAX + 1), "format"),
        ("Content-Type", "reserved"),
        ("webhook-signature", "reserved"),
        ("signet-status", "reserved"),
        ("x-hub-signature", "reserved"),
    ],
)
def test_a_name_that_is_no_token_or_is_signet_s_own_is_refused(name: str, code: str) -> None:
    body = webhook(signature_scheme="hmac-sha256", secret=SECRET, signature_header=name)
    assert field_codes(body) == {"signature_header": code}


def test_the_longest_name_is_taken() -> None:
    name = "x" * SIGNATURE_HEADER_MAX
    assert hooked(signature_header=name).signature_header == name


def test_a_name_that_is_also_a_custom_header_is_a_conflict() -> None:
    for headers, sensitive in (
        ({"X-Acme-Signature": "v"}, None),
        ({"x-acme-signature": "v"}, ["x-acme-signature"]),
    ):
        body = webhook(
            signature_scheme="github",
            secret=SECRET,
            signature_header="x-acme-signature",
            headers=headers,
            sensitive_headers=sensitive,
        )
        assert field_codes(body) == {"signature_header": "conflict"}


def test_patch_sets_changes_and_clears_it() -> None:
    current = hooked("hmac-sha256")
    named = patch(current, {"signature_header": "Acme-Signature"})
    assert named.signature_header == "acme-signature"
    assert patch(named, {"name": "Renamed"}).signature_header == "acme-signature"  # kept
    assert patch(named, {"signature_header": None}).signature_header is None
    assert patch(named, {"signature_header": "signet-signature"}).signature_header is None


def test_patch_is_judged_with_the_stored_scheme_and_headers() -> None:
    standard = create(webhook()).destination
    assert patch_codes(standard, {"signature_header": "x-acme"}) == {"signature_header": "invalid"}
    named = hooked(signature_header="x-acme-signature")
    assert patch_codes(named, {"headers": {"X-Acme-Signature": "v"}}) == {
        "signature_header": "conflict"
    }


def test_a_slack_channel_takes_no_signature_header() -> None:
    body = {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL}
    slack = create(body).destination
    assert patch_codes(slack, {"signature_header": "x-acme"}) == {"signature_header": "unknown"}
