"""Creating destinations: a webhook's fields all read, its secret generated (revealed once)
or its own (never revealed), sealed and bound to the destination, each signature scheme;
a Slack channel's URL sealed and kept out of the record, and bad Slack bodies refused.
"""

from __future__ import annotations

from typing import Any

import pytest
import standardwebhooks

from services.portal.destination_fields import DestinationRules
from services.portal.destinations import DestinationBuilder
from services.portal.signing_secrets import SchemeCatalog
from signet.errors import SecretError
from signet.records.model import RetryPolicy, SignatureScheme
from signet.security.secrets import secret_aad, slack_url_aad
from tests.services.portal.destination_bodies import (
    NOW,
    RING,
    SLACK_URL,
    WS,
    create,
    field_errors,
    opened,
    own_whsec,
    webhook,
)

# -- creating webhooks -------------------------------------------------------------------


def test_a_generated_secret_is_revealed_once_and_sealed() -> None:
    built = create(webhook())
    d = built.destination
    assert built.revealed_secret is not None and built.revealed_secret.startswith("whsec_")
    assert opened(d) == built.revealed_secret
    standardwebhooks.Webhook(built.revealed_secret)  # the reference library accepts it
    assert d.secrets[0].hint == "…" + built.revealed_secret[-4:]
    assert built.revealed_secret.encode() not in d.secrets[0].sealed.ciphertext
    # the defaults
    assert d.id.startswith("dst_") and d.type == "webhook"
    assert d.event_types == ["*"] and d.enabled and d.timeout_seconds is None
    assert d.rate_limit_per_second is None  # unlimited
    assert d.signature_scheme == "standard-webhooks" and d.retry_policy is None
    assert d.created_at == d.updated_at == NOW


def test_an_own_secret_is_sealed_and_never_revealed() -> None:
    secret = own_whsec()
    built = create(webhook(secret=secret))
    assert built.revealed_secret is None
    assert opened(built.destination) == secret


def test_a_sealed_secret_is_bound_to_its_destination() -> None:
    d = create(webhook()).destination
    with pytest.raises(SecretError):
        RING.open(d.secrets[0].sealed, secret_aad(WS, "dst_other"))


def test_every_field_is_read() -> None:
    body = webhook(
        event_types=["order.*", "invoice.paid", "order.*"],
        enabled=False,
        timeout_seconds=7.5,
        rate_limit_per_second=0.5,
        retry_policy={"max_attempts": 5, "max_age_seconds": 3600, "delays_seconds": [1, 10]},
        name="  Audit  ",
    )
    d = create(body).destination
    assert d.name == "Audit"
    assert d.event_types == ["order.*", "invoice.paid"]  # repeats dropped, order kept
    assert not d.enabled and d.timeout_seconds == 7.5
    assert d.rate_limit_per_second == 0.5
    assert d.retry_policy == RetryPolicy(5, 3600, [1, 10])


def test_type_defaults_to_webhook() -> None:
    body = webhook()
    del body["type"]
    assert create(body).destination.type == "webhook"


@pytest.mark.parametrize(
    ("scheme", "own"),
    [
        (SignatureScheme.HMAC_SHA256, "a-plain-text-secret-of-length"),
        (SignatureScheme.HMAC_SHA512, "a-plain-text-secret-of-length"),
        (SignatureScheme.GITHUB, "github-style-secret-1234"),
    ],
)
def test_other_symmetric_schemes(scheme: SignatureScheme, own: str) -> None:
    generated = create(webhook(signature_scheme=scheme.value))
    assert generated.revealed_secret and opened(generated.destination) == generated.revealed_secret
    mine = create(webhook(signature_scheme=scheme.value, secret=own))
    assert mine.revealed_secret is None and opened(mine.destination) == own
    assert field_errors(webhook(signature_scheme=scheme.value, secret="short"))["secret"]


def test_ed25519_reveals_only_the_public_key() -> None:
    built = create(webhook(signature_scheme="standard-webhooks-ed25519"))
    [secret] = built.destination.secrets
    assert built.revealed_secret is None
    assert secret.public_key is not None and secret.public_key.startswith("whpk_")
    assert opened(built.destination).startswith("whsk_")
    assert secret.hint == "…" + secret.public_key[-4:]
    errors = field_errors(
        webhook(signature_scheme="standard-webhooks-ed25519", secret=secret.public_key)
    )
    assert "public key" in errors["secret"]


def test_a_catalog_without_a_scheme_refuses_it_by_name() -> None:
    only_standard = DestinationBuilder(
        RING, SchemeCatalog((SignatureScheme.STANDARD_WEBHOOKS,)), DestinationRules()
    )
    errors = field_errors(webhook(signature_scheme="github"), only_standard)
    assert errors == {"signature_scheme": errors["signature_scheme"]}
    assert "standard-webhooks" in errors["signature_scheme"]


# -- slack -------------------------------------------------------------------------------


def test_a_slack_url_is_sealed_and_kept_out_of_the_record() -> None:
    body = {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL}
    built = create(body)
    d = built.destination
    assert d.type == "slack" and d.url is None and d.secrets == [] and d.sealed_url is not None
    assert built.revealed_secret is None
    assert RING.open(d.sealed_url, slack_url_aad(WS, d.id)).decode() == SLACK_URL
    # not openable as a signing secret of the same destination
    with pytest.raises(SecretError):
        RING.open(d.sealed_url, secret_aad(WS, d.id))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "slack", "name": "A"}, "webhook_url"),
        ({"type": "slack", "name": "A", "webhook_url": "https://example.com/services/x"}, None),
        ({"type": "slack", "name": "A", "webhook_url": "http://hooks.slack.com/services/x"}, None),
        ({"type": "slack", "name": "A", "webhook_url": "https://hooks.slack.com/"}, None),
        ({"type": "slack", "name": "A", "webhook_url": "https://hooks.slack.com/services"}, None),
        ({"type": "slack", "webhook_url": SLACK_URL}, "name"),
        ({"type": "slack", "name": "A", "webhook_url": SLACK_URL, "url": "https://x"}, "url"),
        ({"type": "slack", "name": "A", "webhook_url": SLACK_URL, "secret": "s" * 20}, "secret"),
        (
            {"type": "slack", "name": "A", "webhook_url": SLACK_URL, "rate_limit_per_second": 1},
            "rate_limit_per_second",
        ),
    ],
)
def test_bad_slack_bodies_name_the_field(body: dict[str, Any], field: str | None) -> None:
    errors = field_errors(body)
    assert (field or "webhook_url") in errors, errors
