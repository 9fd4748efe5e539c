"""Publishable keys and response shapes: what may leave the portal and what may not."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from services.portal.destination_fields import DestinationRules
from services.portal.destinations import DestinationBuilder
from services.portal.keys import key_sha256, mint_key
from services.portal.signing_secrets import SchemeCatalog
from services.portal.views import destination_view, iso
from signet.records.model import Environment
from signet.security.secrets import MasterKeyRing, generate_master_key

NOW = 1_776_450_120_123


@pytest.mark.parametrize(
    ("environment", "prefix"),
    [
        (Environment.PRODUCTION, "pk_live_"),
        (Environment.STAGING, "pk_test_"),
        (Environment.DEVELOPMENT, "pk_test_"),
    ],
)
def test_keys_are_prefixed_by_environment_and_stored_hashed(
    environment: Environment, prefix: str
) -> None:
    minted = mint_key(environment, NOW)
    assert minted.plain.startswith(prefix) and len(minted.plain) == len(prefix) + 32
    assert minted.plain[len(prefix) :].isalnum()
    assert minted.record.sha256 == hashlib.sha256(minted.plain.encode()).hexdigest()
    assert minted.record.sha256 == key_sha256(minted.plain)
    assert minted.record.hint == f"{prefix}…{minted.plain[-4:]}"
    assert minted.record.id.startswith("key_") and minted.record.created_at == NOW
    assert minted.plain not in repr(minted.record)


def test_keys_do_not_repeat() -> None:
    assert len({mint_key(Environment.PRODUCTION, NOW).plain for _ in range(200)}) == 200


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    assert iso(NOW) == "2026-04-17T18:22:00.123Z"
    assert iso(None) is None


def test_destination_views_carry_no_sealed_material() -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    builder = DestinationBuilder(ring, SchemeCatalog.default(), DestinationRules())
    webhook = builder.create(
        "ws_v", builder.read_new(b'{"name": "A", "url": "https://a.example/in"}'), now_ms=NOW
    ).destination
    slack_body = orjson.dumps(
        {"type": "slack", "name": "S", "webhook_url": "https://hooks.slack.com/services/T/B/Z"}
    )
    slack = builder.create("ws_v", builder.read_new(slack_body), now_ms=NOW).destination
    web_view, slack_view = (
        destination_view(d).model_dump(mode="json", exclude_unset=True) for d in (webhook, slack)
    )
    orjson.dumps([web_view, slack_view])  # plain JSON: no bytes anywhere
    assert set(web_view["secrets"][0]) == {"id", "hint", "created_at", "expires_at"}
    assert web_view["secret_hint"] == webhook.secrets[0].hint
    assert "sealed" not in str(web_view) and "webhook_url" not in slack_view
    assert "url" not in slack_view and "secrets" not in slack_view
