"""Signing-secret rotation: the new secret becomes primary, the previous one overlaps.

Pure rules first (the secret list after a rotation), then the route on the real broker
and router, checked with the dispatcher's own key lookup and an independent verifier.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import orjson
import pytest
import standardwebhooks
from signet_sdk.contract.fields import FieldErrors
from signet_sdk.signing import sign_delivery, verify_delivery

from services.dispatcher.signing_keys import SigningKeys, active_secrets
from services.portal.rotation import (
    DEFAULT_OVERLAP_SECONDS,
    MAX_SIGNING_SECRETS,
    RotationRequest,
    SecretRotator,
    rotated_secrets,
)
from services.portal.signing_secrets import SchemeCatalog
from signet.api.reading import parse_model
from signet.records.model import Destination, SealedSecret, SigningSecret
from signet.security.secrets import MasterKeyRing, generate_master_key, secret_aad
from tests.services.portal.conftest import PortalClient, RunningPortal

NOW = 1_800_000_000_000
WS = "ws_unit"
RING = MasterKeyRing.parse(generate_master_key())
ROTATOR = SecretRotator(RING, SchemeCatalog.default())
DESTINATIONS = "/v1/workspace/destinations"


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def secret(sid: str, created_at: int, expires_at: int | None = None) -> SigningSecret:
    return SigningSecret(
        id=sid,
        sealed=SealedSecret("k", b"w", b"c"),
        hint="…x",
        created_at=created_at,
        expires_at=expires_at,
    )


def destination(scheme: str = "standard-webhooks", *, sealed: str | None = None) -> Destination:
    plain = sealed or own_whsec()
    return Destination(
        id="dst_unit",
        type="webhook",
        name="d",
        created_at=NOW - 10_000,
        updated_at=NOW - 10_000,
        url="https://hooks.example.com/in",
        signature_scheme=scheme,
        secrets=[
            SigningSecret(
                id="sec_first",
                sealed=RING.seal(plain.encode(), secret_aad(WS, "dst_unit")),
                hint="…" + plain[-4:],
                created_at=NOW - 10_000,
            )
        ],
    )


def opened(d: Destination) -> list[str]:
    return [RING.open(s.sealed, secret_aad(WS, d.id)).decode() for s in d.secrets]


# -- the secret list after a rotation (pure) ---------------------------------------------


def test_the_previous_primary_overlaps_and_the_new_one_comes_first() -> None:
    old = secret("sec_old", NOW - 5000)
    new = secret("sec_new", NOW)
    result = rotated_secrets([old], new, now_ms=NOW, overlap_seconds=60)
    assert [s.id for s in result] == ["sec_new", "sec_old"]
    assert result[0].expires_at is None
    assert result[1].expires_at == NOW + 60_000


def test_overlap_zero_is_a_cut_over() -> None:
    older = secret("sec_older", NOW - 9000, expires_at=NOW + 1000)
    old = secret("sec_old", NOW - 5000)
    assert rotated_secrets([older, old], secret("sec_new", NOW), now_ms=NOW, overlap_seconds=0) == [
        secret("sec_new", NOW)
    ]


def test_expired_secrets_are_pruned_and_overlapping_ones_keep_their_expiry() -> None:
    expired = secret("sec_expired", NOW - 9000, expires_at=NOW - 1)
    overlapping = secret("sec_overlapping", NOW - 7000, expires_at=NOW + 5000)
    old = secret("sec_old", NOW - 5000)
    result = rotated_secrets(
        [expired, overlapping, old], secret("sec_new", NOW), now_ms=NOW, overlap_seconds=3600
    )
    assert [(s.id, s.expires_at) for s in result] == [
        ("sec_new", None),
        ("sec_old", NOW + 3_600_000),
        ("sec_overlapping", NOW + 5000),
    ]
    # What the dispatcher signs with, at send time, agrees.
    assert [s.id for s in active_secrets(result, NOW)] == [
        "sec_new",
        "sec_old",
        "sec_overlapping",
    ]
    assert [s.id for s in active_secrets(result, NOW + 3_600_001)] == ["sec_new"]


def read_rotation(body: Any) -> RotationRequest:
    return parse_model(RotationRequest, orjson.dumps(body))


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ([], "body", "type"),
        ({"overlap_seconds": -1}, "overlap_seconds", "range"),
        ({"overlap_seconds": 31 * 86400}, "overlap_seconds", "range"),
        ({"overlap_seconds": 1.5}, "overlap_seconds", "type"),
        ({"overlap_seconds": True}, "overlap_seconds", "type"),
        ({"secret": 5}, "secret", "type"),
        ({"secret": ""}, "secret", "length"),
        ({"secret": "a\x00b"}, "secret", "format"),
        ({"colour": "red"}, "colour", "unknown"),
    ],
)
def test_bad_rotation_bodies_name_the_field(body: Any, field: str, code: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        read_rotation(body)
    errors = {e.field: e.code.value for e in caught.value.errors}
    assert errors[field] == code, errors


def test_an_empty_body_means_generate_with_the_default_overlap() -> None:
    for body in ({}, {"overlap_seconds": None, "secret": None}):
        rotation = read_rotation(body)
        assert rotation.secret is None and rotation.overlap == DEFAULT_OVERLAP_SECONDS


def test_a_generated_secret_is_revealed_once_and_sealed_beside_the_old_one() -> None:
    current = destination()
    [first] = opened(current)
    rotated = ROTATOR.rotate(WS, current, RotationRequest(overlap_seconds=120), now_ms=NOW)
    assert rotated.revealed_secret is not None and rotated.public_key is None
    assert opened(rotated.destination) == [rotated.revealed_secret, first]
    new, old = rotated.destination.secrets
    assert new.created_at > old.created_at and new.expires_at is None
    assert old.expires_at == NOW + 120_000
    assert new.hint == "…" + rotated.revealed_secret[-4:]
    assert rotated.destination.updated_at == NOW


def test_a_customer_secret_is_checked_against_the_scheme_and_never_revealed() -> None:
    current = destination("hmac-sha256", sealed="an-old-plain-text-secret")
    mine = "a-new-plain-text-secret"
    rotated = ROTATOR.rotate(
        WS, current, RotationRequest(secret=mine, overlap_seconds=60), now_ms=NOW
    )
    assert rotated.revealed_secret is None
    assert opened(rotated.destination)[0] == mine
    with pytest.raises(FieldErrors) as caught:
        ROTATOR.rotate(WS, current, RotationRequest(secret="short", overlap_seconds=60), now_ms=NOW)
    [error] = caught.value.errors
    assert error.field == "secret" and "16" in error.message and "short" not in error.message
    with pytest.raises(FieldErrors):  # standard-webhooks takes only whsec_ secrets
        ROTATOR.rotate(
            WS,
            destination(),
            RotationRequest(secret="plain-text-but-long", overlap_seconds=60),
            now_ms=NOW,
        )


def test_ed25519_rotation_makes_a_fresh_key_pair_and_shows_the_public_key() -> None:
    current = destination("standard-webhooks-ed25519", sealed="unused")
    rotated = ROTATOR.rotate(WS, current, RotationRequest(overlap_seconds=60), now_ms=NOW)
    assert rotated.revealed_secret is None
    assert rotated.public_key is not None and rotated.public_key.startswith("whpk_")
    new = rotated.destination.secrets[0]
    assert new.public_key == rotated.public_key
    assert opened(rotated.destination)[0].startswith("whsk_")


def test_the_number_of_overlapping_secrets_is_bounded() -> None:
    current = destination()
    for step in range(MAX_SIGNING_SECRETS - 1):
        current = ROTATOR.rotate(
            WS, current, RotationRequest(overlap_seconds=3600), now_ms=NOW + step
        ).destination
    assert len(current.secrets) == MAX_SIGNING_SECRETS
    with pytest.raises(FieldErrors) as caught:
        ROTATOR.rotate(WS, current, RotationRequest(overlap_seconds=3600), now_ms=NOW + 100)
    assert caught.value.errors[0].field == "overlap_seconds"
    cut = ROTATOR.rotate(WS, current, RotationRequest(overlap_seconds=0), now_ms=NOW + 100)
    assert len(cut.destination.secrets) == 1


# -- the route, on the real broker and router ---------------------------------------------


async def new_admin(client: PortalClient) -> tuple[str, str]:
    workspace = await client.new_workspace()
    return workspace["id"], await client.session(workspace["id"])


async def create(client: PortalClient, token: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Primary", "url": "https://hooks.example.com/in", **fields}
    answer = await client.workspace(token, "POST", DESTINATIONS, body)
    assert answer.status == 201, answer.text
    created: dict[str, Any] = answer.json
    return created


def signed_headers(portal: RunningPortal, workspace_id: str, destination_id: str) -> Any:
    """Sign like the dispatcher does at send time: its key lookup over the current snapshot."""
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None
    stored = snapshot.destination(destination_id)
    assert stored is not None
    keys = SigningKeys(portal.ring).for_destination(workspace_id, stored, int(time.time() * 1000))
    body = b'{"hello":"rotation"}'
    headers = sign_delivery(
        stored.signature_scheme, keys, msg_id="evt_rot", timestamp=int(time.time()), body=body
    )
    return headers, body


def verifies(secret_text: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        standardwebhooks.Webhook(secret_text).verify(body, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def test_rotation_with_overlap_keeps_both_secrets_signing(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await new_admin(client)
    created = await create(client, token)
    first, dst = created["secret"], created["id"]

    answer = await client.workspace(
        token, "POST", f"{DESTINATIONS}/{dst}/rotate-secret", {"overlap_seconds": 600}
    )
    assert answer.status == 200, answer.text
    second = answer.json["secret"]
    assert second.startswith("whsec_") and second != first
    new, old = answer.json["secrets"]
    assert new["hint"] == answer.json["secret_hint"] == "…" + second[-4:]
    assert new["expires_at"] is None and old["expires_at"] is not None
    assert old["id"] == created["secrets"][0]["id"]

    headers, body = signed_headers(portal, workspace_id, dst)
    assert len(headers["webhook-signature"].split()) == 2
    assert verifies(first, headers, body) and verifies(second, headers, body)

    # Shown once: neither the detail nor the list carries it again.
    seen_before = len(client.seen)
    await client.workspace(token, "GET", f"{DESTINATIONS}/{dst}")
    await client.workspace(token, "GET", DESTINATIONS)
    assert not any(second in text or first in text for text in client.seen[seen_before:])


async def test_overlap_zero_leaves_only_the_new_secret(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await new_admin(client)
    created = await create(client, token)
    dst = created["id"]
    mine = own_whsec()
    answer = await client.workspace(
        token, "POST", f"{DESTINATIONS}/{dst}/rotate-secret", {"secret": mine, "overlap_seconds": 0}
    )
    assert answer.status == 200, answer.text
    assert "secret" not in answer.json  # the customer's own is never echoed
    assert [s["hint"] for s in answer.json["secrets"]] == ["…" + mine[-4:]]
    headers, body = signed_headers(portal, workspace_id, dst)
    assert verifies(mine, headers, body)
    assert not verifies(created["secret"], headers, body)


async def test_ed25519_rotation_answers_with_the_new_public_key(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await new_admin(client)
    created = await create(client, token, signature_scheme="standard-webhooks-ed25519")
    old_public = created["secrets"][0]["public_key"]
    answer = await client.workspace(
        token, "POST", f"{DESTINATIONS}/{created['id']}/rotate-secret", None
    )
    assert answer.status == 200, answer.text
    public = answer.json["public_key"]
    assert public.startswith("whpk_") and public != old_public and "secret" not in answer.json
    assert [s.get("public_key") for s in answer.json["secrets"]] == [public, old_public]
    headers, body = signed_headers(portal, workspace_id, created["id"])
    for key in (public, old_public):  # both key pairs sign during the overlap
        verify_delivery("standard-webhooks-ed25519", key, headers, body)


async def test_rotation_refusals(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await new_admin(client)
    created = await create(client, token, signature_scheme="hmac-sha256")
    path = f"{DESTINATIONS}/{created['id']}/rotate-secret"

    bad = await client.workspace(token, "POST", path, {"secret": own_whsec()[:10]})
    assert bad.status == 400 and "secret" in bad.field_errors(), bad.text
    bad = await client.workspace(token, "POST", path, {"overlap_seconds": "soon"})
    assert bad.status == 400 and "overlap_seconds" in bad.field_errors(), bad.text

    viewer = await client.session(workspace_id, role="viewer")
    assert (await client.workspace(viewer, "POST", path, {})).status == 403

    _, stranger = await new_admin(client)
    assert (await client.workspace(stranger, "POST", path, {})).status == 404
    missing = f"{DESTINATIONS}/dst_nope/rotate-secret"
    assert (await client.workspace(token, "POST", missing, {})).status == 404

    slack = await client.workspace(
        token,
        "POST",
        DESTINATIONS,
        {
            "type": "slack",
            "name": "Alerts",
            "webhook_url": "https://hooks.slack.com/services/T0/B0/" + "x" * 24,
        },
    )
    assert slack.status == 201, slack.text
    refused = await client.workspace(
        token, "POST", f"{DESTINATIONS}/{slack.json['id']}/rotate-secret", {}
    )
    assert refused.status == 409, refused.text

    # None of the refusals changed the destination.
    after = await client.workspace(token, "GET", f"{DESTINATIONS}/{created['id']}")
    assert after.json["secrets"] == created["secrets"]
