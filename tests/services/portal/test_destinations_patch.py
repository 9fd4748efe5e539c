"""Patching destinations: a partial update changes only what it names (an absent field
kept apart from an explicit null, which restores the platform's default), bad patches
name the field, and a Slack channel's URL is resealed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from signet_sdk.contract.fields import FieldErrors

from signet.records.model import RetryPolicy
from signet.security.secrets import slack_url_aad
from tests.services.portal.destination_bodies import (
    NOW,
    RING,
    SLACK_URL,
    WS,
    create,
    existing,
    own_whsec,
    patch,
    patch_errors,
)

# -- patching ----------------------------------------------------------------------------


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
