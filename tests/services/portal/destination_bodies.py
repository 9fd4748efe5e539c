"""The destination builder the destination tests share, and what they do with it: a
webhook body, create and patch as POST and PATCH do, the field errors a body gets, an
own secret, a sealed secret opened.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from signet_sdk.contract.fields import FieldErrors

from services.portal.destination_fields import DestinationRules
from services.portal.destinations import DestinationBuilder, NewDestination
from services.portal.signing_secrets import SchemeCatalog
from signet.records.model import Destination
from signet.security.secrets import MasterKeyRing, generate_master_key, secret_aad

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


def existing() -> Destination:
    return create(webhook(timeout_seconds=5, retry_policy={"max_attempts": 3})).destination


def patch_errors(current: Destination, body: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        patch(current, body)
    return {e.field: e.message for e in caught.value.errors}
