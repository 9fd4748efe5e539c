"""Destination bodies: validation naming each field, sealed secrets, partial updates."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from typing import Any

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from services.portal.destinations import DestinationBuilder, DestinationRules
from services.portal.errors import InvalidInput
from services.portal.signing_secrets import SchemeCatalog
from signet.errors import SecretError
from signet.records.model import Destination, RetryPolicy, SignatureScheme
from signet.security.secrets import MasterKeyRing, generate_master_key, secret_aad, slack_url_aad

NOW = 1_800_000_000_000
WS = "ws_unit"
RING = MasterKeyRing.parse(generate_master_key())
BUILDER = DestinationBuilder(RING, SchemeCatalog.default(), DestinationRules())
INSECURE = DestinationBuilder(
    RING, SchemeCatalog.default(), DestinationRules(allow_insecure_urls=True)
)
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


def webhook(**fields: Any) -> dict[str, Any]:
    return {"type": "webhook", "name": "Primary", "url": "https://hooks.example.com/in", **fields}


def field_errors(body: Any, builder: DestinationBuilder = BUILDER) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        builder.create(WS, body, now_ms=NOW)
    return {e.field: e.message for e in caught.value.errors}


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def opened(destination: Destination) -> str:
    [secret] = destination.secrets
    return RING.open(secret.sealed, secret_aad(WS, destination.id)).decode()


# -- creating webhooks -------------------------------------------------------------------


def test_a_generated_secret_is_revealed_once_and_sealed() -> None:
    built = BUILDER.create(WS, webhook(), now_ms=NOW)
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
    built = BUILDER.create(WS, webhook(secret=secret), now_ms=NOW)
    assert built.revealed_secret is None
    assert opened(built.destination) == secret


def test_a_sealed_secret_is_bound_to_its_destination() -> None:
    d = BUILDER.create(WS, webhook(), now_ms=NOW).destination
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
    d = BUILDER.create(WS, body, now_ms=NOW).destination
    assert d.name == "Audit"
    assert d.event_types == ["order.*", "invoice.paid"]  # repeats dropped, order kept
    assert not d.enabled and d.timeout_seconds == 7.5
    assert d.rate_limit_per_second == 0.5
    assert d.retry_policy == RetryPolicy(5, 3600, [1, 10])


def test_type_defaults_to_webhook() -> None:
    body = webhook()
    del body["type"]
    assert BUILDER.create(WS, body, now_ms=NOW).destination.type == "webhook"


@pytest.mark.parametrize(
    ("scheme", "own"),
    [
        (SignatureScheme.HMAC_SHA256, "a-plain-text-secret-of-length"),
        (SignatureScheme.HMAC_SHA512, "a-plain-text-secret-of-length"),
        (SignatureScheme.GITHUB, "github-style-secret-1234"),
    ],
)
def test_other_symmetric_schemes(scheme: SignatureScheme, own: str) -> None:
    generated = BUILDER.create(WS, webhook(signature_scheme=scheme.value), now_ms=NOW)
    assert generated.revealed_secret and opened(generated.destination) == generated.revealed_secret
    mine = BUILDER.create(WS, webhook(signature_scheme=scheme.value, secret=own), now_ms=NOW)
    assert mine.revealed_secret is None and opened(mine.destination) == own
    assert field_errors(webhook(signature_scheme=scheme.value, secret="short"))["secret"]


def test_ed25519_reveals_only_the_public_key() -> None:
    built = BUILDER.create(WS, webhook(signature_scheme="standard-webhooks-ed25519"), now_ms=NOW)
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


# -- refusing bad webhooks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([], "body", "JSON object"),
        ("x", "body", "JSON object"),
        ({"type": "webhook", "url": "https://a.example"}, "name", "required"),
        (webhook(name=""), "name", "blank"),
        (webhook(name="   "), "name", "blank"),
        (webhook(name="x" * 101), "name", "1 to 100"),
        (webhook(name=5), "name", "string"),
        (webhook(name="a\x00b"), "name", "control characters"),
        ({"type": "webhook", "name": "n"}, "url", "required"),
        (webhook(url="ftp://a.example/x"), "url", "http(s)"),
        (webhook(url="/relative"), "url", "http(s)"),
        (webhook(url="http://a.example/in"), "url", "https"),
        (webhook(url="https://user:pw@a.example/in"), "url", "credentials"),
        (webhook(url="https://a.example/in#frag"), "url", "fragment"),
        (webhook(url="https://a.example:99999/"), "url", "valid URL"),
        (webhook(url="https://a.exa mple/"), "url", "whitespace"),
        (webhook(url="https://a.example/" + "x" * 2100), "url", "2048"),
        (webhook(event_types=[]), "event_types", "at least one"),
        (webhook(event_types="order.*"), "event_types", "list"),
        (webhook(event_types=["order.*", "or der"]), "event_types[1]", "prefix.*"),
        (webhook(event_types=["*.order"]), "event_types[0]", "prefix.*"),
        (webhook(event_types=["order.**"]), "event_types[0]", "prefix.*"),
        (webhook(event_types=[7]), "event_types[0]", "string"),
        (webhook(event_types=["a"] * 51), "event_types", "at most 50"),
        (webhook(signature_scheme="rot13"), "signature_scheme", "one of"),
        (webhook(secret="not-whsec"), "secret", "whsec_"),
        (webhook(secret="whsec_!!!!"), "secret", "base64"),
        (webhook(secret="whsec_" + base64.b64encode(b"x" * 8).decode()), "secret", "bytes"),
        (webhook(secret=12), "secret", "string"),
        (webhook(enabled="yes"), "enabled", "true or false"),
        (webhook(timeout_seconds=0), "timeout_seconds", "between 1 and 30"),
        (webhook(timeout_seconds=31), "timeout_seconds", "between 1 and 30"),
        (webhook(timeout_seconds="5"), "timeout_seconds", "number"),
        (webhook(timeout_seconds=True), "timeout_seconds", "number"),
        (webhook(rate_limit_per_second=0), "rate_limit_per_second", "between 0.001 and 10000"),
        (webhook(rate_limit_per_second=-1), "rate_limit_per_second", "between"),
        (webhook(rate_limit_per_second=10_001), "rate_limit_per_second", "between"),
        (webhook(rate_limit_per_second="5"), "rate_limit_per_second", "number"),
        (webhook(rate_limit_per_second=False), "rate_limit_per_second", "number"),
        (webhook(retry_policy=[]), "retry_policy", "JSON object"),
        (webhook(retry_policy={"max_attempts": 0}), "retry_policy.max_attempts", "between"),
        (webhook(retry_policy={"max_attempts": 2.5}), "retry_policy.max_attempts", "integer"),
        (webhook(retry_policy={"max_attempts": True}), "retry_policy.max_attempts", "integer"),
        (webhook(retry_policy={"max_age_seconds": 10}), "retry_policy.max_age_seconds", "60"),
        (webhook(retry_policy={"delays_seconds": []}), "retry_policy.delays_seconds", "list"),
        (
            webhook(retry_policy={"delays_seconds": [5, 0]}),
            "retry_policy.delays_seconds[1]",
            "between 1",
        ),
        (webhook(retry_policy={"jitter": 1}), "retry_policy.jitter", "unknown"),
        (webhook(colour="red"), "colour", "unknown field"),
        (webhook(type="sms"), "type", "webhook, slack"),
        (webhook(webhook_url=SLACK_URL), "webhook_url", "unknown field"),
    ],
)
def test_bad_webhook_bodies_name_the_field(body: Any, field: str, words: str) -> None:
    errors = field_errors(body)
    assert field in errors, errors
    assert words in errors[field]


def test_every_bad_field_is_reported_at_once() -> None:
    errors = field_errors(
        {"name": "", "url": "http://x", "event_types": [], "timeout_seconds": 99, "x": 1}
    )
    assert set(errors) == {"name", "url", "event_types", "timeout_seconds", "x"}


def test_http_is_accepted_when_insecure_destinations_are_allowed() -> None:
    d = INSECURE.create(WS, webhook(url="http://127.0.0.1:9/hook"), now_ms=NOW).destination
    assert d.url == "http://127.0.0.1:9/hook"


# -- slack -------------------------------------------------------------------------------


def test_a_slack_url_is_sealed_and_kept_out_of_the_record() -> None:
    body = {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL}
    built = BUILDER.create(WS, body, now_ms=NOW)
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


# -- patching ----------------------------------------------------------------------------


def existing() -> Destination:
    return BUILDER.create(
        WS, webhook(timeout_seconds=5, retry_policy={"max_attempts": 3}), now_ms=NOW
    ).destination


def patch_errors(current: Destination, body: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        BUILDER.patch(WS, current, body, now_ms=NOW + 1)
    return {e.field: e.message for e in caught.value.errors}


def test_a_patch_changes_only_what_it_names() -> None:
    current = existing()
    updated = BUILDER.patch(
        WS, current, {"name": "Renamed", "event_types": ["invoice.*"]}, now_ms=NOW + 5
    )
    assert updated.name == "Renamed" and updated.event_types == ["invoice.*"]
    assert updated.id == current.id and updated.url == current.url
    assert updated.secrets == current.secrets and updated.created_at == current.created_at
    assert updated.timeout_seconds == 5 and updated.retry_policy == RetryPolicy(max_attempts=3)
    assert updated.updated_at == NOW + 5


def test_null_restores_platform_defaults() -> None:
    updated = BUILDER.patch(
        WS, existing(), {"timeout_seconds": None, "retry_policy": None}, now_ms=NOW + 1
    )
    assert updated.timeout_seconds is None and updated.retry_policy is None


def test_a_rate_limit_is_set_changed_and_removed_by_patch() -> None:
    current = existing()
    limited = BUILDER.patch(WS, current, {"rate_limit_per_second": 20}, now_ms=NOW + 1)
    assert limited.rate_limit_per_second == 20.0 and limited.timeout_seconds == 5
    kept = BUILDER.patch(WS, limited, {"name": "Renamed"}, now_ms=NOW + 2)
    assert kept.rate_limit_per_second == 20.0
    removed = BUILDER.patch(WS, kept, {"rate_limit_per_second": None}, now_ms=NOW + 3)
    assert removed.rate_limit_per_second is None and removed.updated_at == NOW + 3


def test_re_enabling_clears_the_disabled_reason() -> None:
    disabled = replace(existing(), enabled=False, disabled_reason="410 Gone")
    assert BUILDER.patch(WS, disabled, {"enabled": True}, now_ms=NOW + 1).disabled_reason is None
    kept = BUILDER.patch(WS, disabled, {"name": "x"}, now_ms=NOW + 1)
    assert kept.disabled_reason == "410 Gone" and not kept.enabled


def test_an_empty_patch_is_the_same_destination() -> None:
    current = existing()
    assert BUILDER.patch(WS, current, {}, now_ms=NOW + 1) is current


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secret": own_whsec()}, "secret"),
        ({"signature_scheme": "github"}, "signature_scheme"),
        ({"type": "slack"}, "type"),
        ({"name": None}, "name"),
        ({"url": None}, "url"),
        ({"url": "http://a.example"}, "url"),
        ({"event_types": None}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"enabled": "no"}, "enabled"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"id": "dst_other"}, "id"),
        ({"webhook_url": SLACK_URL}, "webhook_url"),
        ([], "body"),
    ],
)
def test_bad_patches_name_the_field(body: Any, field: str) -> None:
    assert field in patch_errors(existing(), body)


def test_patching_a_slack_channel_reseals_its_url() -> None:
    slack = BUILDER.create(
        WS, {"type": "slack", "name": "A", "webhook_url": SLACK_URL}, now_ms=NOW
    ).destination
    other = SLACK_URL.replace("XXXX", "YYYY")
    updated = BUILDER.patch(WS, slack, {"webhook_url": other}, now_ms=NOW + 1)
    assert updated.sealed_url is not None
    assert RING.open(updated.sealed_url, slack_url_aad(WS, slack.id)).decode() == other
    assert "url" in patch_errors(slack, {"url": "https://a.example"})
    assert "webhook_url" in patch_errors(slack, {"webhook_url": "https://a.example"})


# -- no input crashes the builder --------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    [
        "type",
        "name",
        "url",
        "event_types",
        "signature_scheme",
        "secret",
        "enabled",
        "timeout_seconds",
        "rate_limit_per_second",
        "retry_policy",
        "webhook_url",
        "x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_FIELDS, _JSON | st.sampled_from(["slack", "webhook", SLACK_URL])))
def test_any_json_is_either_a_destination_or_field_errors(body: dict[str, Any]) -> None:
    try:
        built = BUILDER.create(WS, body, now_ms=NOW)
    except InvalidInput as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)
    else:
        assert built.destination.name.strip()
    try:
        BUILDER.patch(WS, existing(), body, now_ms=NOW + 1)
    except InvalidInput as exc:
        assert exc.errors
