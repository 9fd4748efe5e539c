"""Destination bodies: validation naming each field with a code, sealed secrets, partial
updates (an absent field kept apart from an explicit null)."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from typing import Any

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st
from signet_sdk.contract.fields import FieldErrors

from services.portal.destination_fields import DestinationRules
from services.portal.destinations import DestinationBuilder, NewDestination
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


def encoded(body: Any) -> bytes:
    # The stdlib's encoder: it writes any integer (orjson stops at 64 bits) and NaN.
    return json.dumps(body).encode()


def create(body: Any, builder: DestinationBuilder = BUILDER, now_ms: int = NOW) -> NewDestination:
    """What POST does with a body: read it under the builder's rules, then build."""
    return builder.create(WS, builder.read_new(encoded(body)), now_ms=now_ms)


def patch(current: Destination, body: Any, now_ms: int = NOW + 1) -> Destination:
    return BUILDER.patch(WS, current, BUILDER.read_patch(encoded(body), current), now_ms=now_ms)


def field_errors(body: Any, builder: DestinationBuilder = BUILDER) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        create(body, builder)
    return {e.field: e.message for e in caught.value.errors}


def field_codes(body: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        create(body)
    return {e.field: e.code.value for e in caught.value.errors}


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def opened(destination: Destination) -> str:
    [secret] = destination.secrets
    return RING.open(secret.sealed, secret_aad(WS, destination.id)).decode()


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


# -- refusing bad webhooks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code", "words"),
    [
        ([], "body", "type", "JSON object"),
        ("x", "body", "type", "JSON object"),
        ({"type": "webhook", "url": "https://a.example"}, "name", "required", "required"),
        (webhook(name=""), "name", "length", "at least 1"),
        (webhook(name="   "), "name", "length", "at least 1"),
        (webhook(name="x" * 101), "name", "length", "at most 100"),
        (webhook(name=5), "name", "type", "string"),
        (webhook(name="a\x00b"), "name", "format", "control characters"),
        ({"type": "webhook", "name": "n"}, "url", "required", "required"),
        (webhook(url="ftp://a.example/x"), "url", "format", "http(s)"),
        (webhook(url="/relative"), "url", "format", "http(s)"),
        (webhook(url="http://a.example/in"), "url", "format", "https"),
        (webhook(url="https://user:pw@a.example/in"), "url", "format", "credentials"),
        (webhook(url="https://a.example/in#frag"), "url", "format", "fragment"),
        (webhook(url="https://a.example:99999/"), "url", "format", "valid URL"),
        (webhook(url="https://a.exa mple/"), "url", "format", "whitespace"),
        (webhook(url="https://a.example/" + "x" * 2100), "url", "length", "2048"),
        (webhook(event_types=[]), "event_types", "length", "at least 1"),
        (webhook(event_types="order.*"), "event_types", "type", "array"),
        (webhook(event_types=["order.*", "or der"]), "event_types[1]", "format", "prefix.*"),
        (webhook(event_types=["*.order"]), "event_types[0]", "format", "prefix.*"),
        (webhook(event_types=["order.**"]), "event_types[0]", "format", "prefix.*"),
        (webhook(event_types=["order\n"]), "event_types[0]", "format", "prefix.*"),
        (webhook(event_types=[7]), "event_types[0]", "type", "string"),
        (webhook(event_types=["a" * 201]), "event_types[0]", "length", "at most 200"),
        (webhook(event_types=["a"] * 51), "event_types", "length", "at most 50"),
        (webhook(signature_scheme="rot13"), "signature_scheme", "choice", "one of"),
        (webhook(secret="not-whsec"), "secret", "format", "whsec_"),
        (webhook(secret="whsec_!!!!"), "secret", "format", "base64"),
        (
            webhook(secret="whsec_" + base64.b64encode(b"x" * 8).decode()),
            "secret",
            "format",
            "bytes",
        ),
        (webhook(secret=12), "secret", "type", "string"),
        (webhook(secret=""), "secret", "length", "at least 1"),
        (webhook(enabled="yes"), "enabled", "type", "true or false"),
        (webhook(timeout_seconds=0), "timeout_seconds", "range", "at least 1"),
        (webhook(timeout_seconds=31), "timeout_seconds", "range", "at most 30"),
        (webhook(timeout_seconds="5"), "timeout_seconds", "type", "number"),
        (webhook(timeout_seconds=True), "timeout_seconds", "type", "number"),
        (webhook(rate_limit_per_second=0), "rate_limit_per_second", "range", "at least 0.001"),
        (webhook(rate_limit_per_second=-1), "rate_limit_per_second", "range", "at least"),
        (webhook(rate_limit_per_second=10_001), "rate_limit_per_second", "range", "at most 10000"),
        (webhook(rate_limit_per_second="5"), "rate_limit_per_second", "type", "number"),
        (webhook(rate_limit_per_second=False), "rate_limit_per_second", "type", "number"),
        (webhook(retry_policy=[]), "retry_policy", "type", "JSON object"),
        (
            webhook(retry_policy={"max_attempts": 0}),
            "retry_policy.max_attempts",
            "range",
            "at least 1",
        ),
        (
            webhook(retry_policy={"max_attempts": 2.5}),
            "retry_policy.max_attempts",
            "type",
            "integer",
        ),
        (
            webhook(retry_policy={"max_attempts": True}),
            "retry_policy.max_attempts",
            "type",
            "integer",
        ),
        (
            webhook(retry_policy={"max_age_seconds": 10}),
            "retry_policy.max_age_seconds",
            "range",
            "60",
        ),
        (
            webhook(retry_policy={"delays_seconds": []}),
            "retry_policy.delays_seconds",
            "length",
            "at least 1",
        ),
        (
            webhook(retry_policy={"delays_seconds": [5, 0]}),
            "retry_policy.delays_seconds[1]",
            "range",
            "at least 1",
        ),
        (webhook(retry_policy={"jitter": 1}), "retry_policy.jitter", "unknown", "unknown"),
        (webhook(colour="red"), "colour", "unknown", "unknown field"),
        (webhook(type="sms"), "type", "choice", "webhook, slack"),
        (webhook(webhook_url=SLACK_URL), "webhook_url", "unknown", "unknown field"),
    ],
)
def test_bad_webhook_bodies_name_the_field(body: Any, field: str, code: str, words: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        create(body)
    errors = {e.field: (e.code.value, e.message) for e in caught.value.errors}
    assert field in errors, errors
    assert errors[field][0] == code, errors
    assert words in errors[field][1], errors


def test_null_is_the_default_where_a_field_has_one() -> None:
    d = create(
        webhook(type=None, event_types=None, signature_scheme=None, enabled=None, secret=None)
    ).destination
    assert d.event_types == ["*"] and d.signature_scheme == "standard-webhooks" and d.enabled
    assert field_codes(webhook(name=None)) == {"name": "type"}


def test_every_bad_field_is_reported_at_once() -> None:
    errors = field_errors(
        {"name": "", "url": "http://x", "event_types": [], "timeout_seconds": 99, "x": 1}
    )
    assert set(errors) == {"name", "url", "event_types", "timeout_seconds", "x"}


def test_http_is_accepted_when_insecure_destinations_are_allowed() -> None:
    d = create(webhook(url="http://127.0.0.1:9/hook"), INSECURE).destination
    assert d.url == "http://127.0.0.1:9/hook"


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


# -- patching ----------------------------------------------------------------------------


def existing() -> Destination:
    return create(webhook(timeout_seconds=5, retry_policy={"max_attempts": 3})).destination


def patch_errors(current: Destination, body: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        patch(current, body)
    return {e.field: e.message for e in caught.value.errors}


def test_a_patch_changes_only_what_it_names() -> None:
    current = existing()
    updated = patch(current, {"name": "Renamed", "event_types": ["invoice.*"]}, NOW + 5)
    assert updated.name == "Renamed" and updated.event_types == ["invoice.*"]
    assert updated.id == current.id and updated.url == current.url
    assert updated.secrets == current.secrets and updated.created_at == current.created_at
    assert updated.timeout_seconds == 5 and updated.retry_policy == RetryPolicy(max_attempts=3)
    assert updated.updated_at == NOW + 5


def test_null_restores_platform_defaults() -> None:
    updated = patch(existing(), {"timeout_seconds": None, "retry_policy": None})
    assert updated.timeout_seconds is None and updated.retry_policy is None


def test_an_all_null_retry_policy_is_the_platform_s() -> None:
    updated = patch(existing(), {"retry_policy": {"max_attempts": None}})
    assert updated.retry_policy is None


def test_a_rate_limit_is_set_changed_and_removed_by_patch() -> None:
    current = existing()
    limited = patch(current, {"rate_limit_per_second": 20}, NOW + 1)
    assert limited.rate_limit_per_second == 20.0 and limited.timeout_seconds == 5
    kept = patch(limited, {"name": "Renamed"}, NOW + 2)
    assert kept.rate_limit_per_second == 20.0
    removed = patch(kept, {"rate_limit_per_second": None}, NOW + 3)
    assert removed.rate_limit_per_second is None and removed.updated_at == NOW + 3


def test_re_enabling_clears_the_disabled_reason() -> None:
    disabled = replace(existing(), enabled=False, disabled_reason="410 Gone")
    assert patch(disabled, {"enabled": True}).disabled_reason is None
    kept = patch(disabled, {"name": "x"})
    assert kept.disabled_reason == "410 Gone" and not kept.enabled
    # null enabled leaves it as it is (and is still a change: the record is rewritten)
    same = patch(disabled, {"enabled": None})
    assert not same.enabled and same.disabled_reason == "410 Gone" and same is not disabled


def test_an_empty_patch_is_the_same_destination() -> None:
    current = existing()
    assert patch(current, {}) is current


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"secret": own_whsec()}, "secret", "invalid"),
        ({"signature_scheme": "github"}, "signature_scheme", "invalid"),
        ({"type": "slack"}, "type", "invalid"),
        ({"type": None}, "type", "invalid"),
        ({"name": None}, "name", "required"),
        ({"url": None}, "url", "required"),
        ({"url": "http://a.example"}, "url", "format"),
        ({"event_types": None}, "event_types", "required"),
        ({"event_types": []}, "event_types", "length"),
        ({"enabled": "no"}, "enabled", "type"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second", "range"),
        ({"id": "dst_other"}, "id", "unknown"),
        ({"webhook_url": SLACK_URL}, "webhook_url", "unknown"),
        ([], "body", "type"),
    ],
)
def test_bad_patches_name_the_field(body: Any, field: str, code: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        patch(existing(), body)
    assert {e.field: e.code.value for e in caught.value.errors}[field] == code


def test_a_field_that_cannot_change_says_why() -> None:
    errors = patch_errors(existing(), {"secret": "x", "signature_scheme": "github"})
    assert "rotate" in errors["secret"] and "create a new" in errors["signature_scheme"]


def test_patching_a_slack_channel_reseals_its_url() -> None:
    slack = create({"type": "slack", "name": "A", "webhook_url": SLACK_URL}).destination
    other = SLACK_URL.replace("XXXX", "YYYY")
    updated = patch(slack, {"webhook_url": other})
    assert updated.sealed_url is not None
    assert RING.open(updated.sealed_url, slack_url_aad(WS, slack.id)).decode() == other
    assert "url" in patch_errors(slack, {"url": "https://a.example"})
    assert "webhook_url" in patch_errors(slack, {"webhook_url": "https://a.example"})
    for webhook_only in ("event_types", "timeout_seconds", "rate_limit_per_second"):
        assert patch_errors(slack, {webhook_only: None}) == {webhook_only: "unknown field"}


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
        built = create(body)
    except FieldErrors as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)
    else:
        assert built.destination.name.strip()
    try:
        patch(existing(), body)
    except FieldErrors as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)
