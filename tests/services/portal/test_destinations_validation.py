"""Bad destination bodies are refused naming each field with a code, every bad field at
once, null taken as the default where a field has one; any JSON is either a destination
or field errors, never a crash of the builder.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signet_sdk.contract.fields import FieldErrors

from tests.services.portal.destination_bodies import (
    INSECURE,
    SLACK_URL,
    create,
    existing,
    field_codes,
    field_errors,
    patch,
    webhook,
)

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
