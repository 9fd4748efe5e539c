"""A webhook destination's custom headers and client certificate, as the portal reads,
seals, patches and shows them (services/portal/headers_tls.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from signet_sdk.contract.fields import FieldErrors

from services.portal.views import ClientTlsInfo, destination_fields
from signet.records.model import Destination
from signet.security.key_rotation import reseal_destination
from signet.security.secrets import MasterKeyRing, client_key_aad, generate_master_key, header_aad
from tests.certificates import TestCa, other_key
from tests.services.portal.destination_bodies import RING, WS, create, patch, webhook

CA = TestCa()
CLIENT = CA.issue("signet-client")
TOKEN = "Bearer sk_live_0123456789abcd"


def errors_of(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    with pytest.raises(FieldErrors) as caught:
        create(body)
    return {e.field: (e.code.value, e.message) for e in caught.value.errors}


def patch_errors(current: Destination, body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    with pytest.raises(FieldErrors) as caught:
        patch(current, body)
    return {e.field: (e.code.value, e.message) for e in caught.value.errors}


def opened_header(destination: Destination, name: str) -> str:
    [header] = [h for h in destination.sealed_headers if h.name == name]
    return RING.open(header.sealed, header_aad(WS, destination.id, name)).decode()


# -- headers ---------------------------------------------------------------------------


def test_headers_are_stored_and_sensitive_ones_sealed_and_shown_masked() -> None:
    body = webhook(
        headers={"X-Tenant": "acme", "Authorization": TOKEN, "X-Api-Key": "k_live_987654321"},
        sensitive_headers=["x-api-key"],
    )
    destination = create(body).destination
    assert destination.headers == {"X-Tenant": "acme"}
    assert [h.name for h in destination.sealed_headers] == ["Authorization", "X-Api-Key"]
    assert opened_header(destination, "Authorization") == TOKEN  # authorization: always
    assert opened_header(destination, "X-Api-Key") == "k_live_987654321"
    shown = destination_fields(destination)
    assert shown["headers"] == {"X-Tenant": "acme", "Authorization": "…abcd", "X-Api-Key": "…4321"}
    assert shown["sensitive_headers"] == ["Authorization", "X-Api-Key"]
    assert TOKEN not in repr(shown)


def test_a_short_sensitive_value_shows_nothing_of_itself() -> None:
    destination = create(webhook(headers={"Authorization": "Basic a"})).destination
    assert destination_fields(destination)["headers"] == {"Authorization": "…"}


@pytest.mark.parametrize(
    "name",
    [
        "Webhook-Id",
        "webhook-signature",
        "Signet-Anything",
        "X-Hub-Signature-256",
        "Content-Type",
        "content-length",
        "Host",
        "User-Agent",
        "traceparent",
        "TraceState",
        "Connection",
        "Transfer-Encoding",
    ],
)
def test_reserved_header_names_are_refused(name: str) -> None:
    code, message = errors_of(webhook(headers={name: "x"}))[f"headers.{name}"]
    assert code == "reserved" and name in message


@pytest.mark.parametrize(
    ("headers", "field", "code"),
    [
        ({"Bad Name": "x"}, "headers.Bad Name", "format"),  # a space is no token character
        ({"X-Ok": "line\r\nInjected: yes"}, "headers.X-Ok", "format"),
        ({"X-Ok": "line\nbreak"}, "headers.X-Ok", "format"),
        ({"X-Ok": "caf\u00e9"}, "headers.X-Ok", "format"),
        # What only the whole map can say names the map.
        ({"X-A": "1", "x-a": "2"}, "headers", "invalid"),
        ({f"X-H{i}": "v" for i in range(21)}, "headers", "length"),
        ({"X-Big": "v" * 8200}, "headers", "too_large"),
    ],
)
def test_bad_headers_are_field_errors(headers: dict[str, str], field: str, code: str) -> None:
    """One header's error names it (headers.X-Ok), so a form can show it by its row."""
    assert errors_of(webhook(headers=headers))[field][0] == code


def test_twenty_headers_within_8_kib_are_fine() -> None:
    headers = {f"X-H{i:02}": "v" * 390 for i in range(20)}  # 20 x 395 = 7,900 bytes
    assert len(create(webhook(headers=headers)).destination.headers) == 20


def test_a_sensitive_name_must_be_a_given_header() -> None:
    code, message = errors_of(webhook(headers={"X-A": "1"}, sensitive_headers=["X-B"]))[
        "sensitive_headers"
    ]
    assert code == "invalid" and "'X-B'" in message


def test_a_null_value_is_refused_on_create() -> None:
    assert "headers.X-A" in errors_of(webhook(headers={"X-A": None}))


def test_patch_replaces_the_map_and_null_keeps_a_sensitive_value() -> None:
    current = create(
        webhook(
            headers={"Authorization": TOKEN, "X-Key": "secret-value-1", "X-Old": "1"},
            sensitive_headers=["X-Key"],
        )
    ).destination
    changed = patch(
        current, {"headers": {"Authorization": None, "X-New": "2", "X-Key": "rotated-value-2"}}
    )
    assert changed.headers == {"X-New": "2"}  # X-Old gone: the map is replaced
    assert opened_header(changed, "Authorization") == TOKEN  # kept, still sealed
    assert opened_header(changed, "X-Key") == "rotated-value-2"  # still sensitive
    [kept] = [h for h in changed.sealed_headers if h.name == "Authorization"]
    [before] = [h for h in current.sealed_headers if h.name == "Authorization"]
    assert kept.sealed == before.sealed

    # null for a header that has no stored sensitive value is an error naming it
    errors = patch_errors(current, {"headers": {"X-Old": None}})
    assert errors["headers.X-Old"][0] == "required"
    # null headers: none at all
    assert patch(current, {"headers": None}).sealed_headers == []


def test_patching_sensitive_headers_seals_but_never_unseals_a_stored_value() -> None:
    current = create(
        webhook(
            headers={"X-Key": "value-of-the-key", "X-Tenant": "acme"}, sensitive_headers=["X-Key"]
        )
    ).destination
    both = patch(current, {"sensitive_headers": ["X-Key", "X-Tenant"]})
    assert both.headers == {}
    assert opened_header(both, "X-Tenant") == "acme"
    assert opened_header(both, "X-Key") == "value-of-the-key"
    # A sealed value is never shown again, so no PATCH makes it readable: not by dropping
    # it from the set, nor by keeping it (null) as a plain header.
    errors = patch_errors(current, {"sensitive_headers": ["X-Tenant"]})
    assert errors["sensitive_headers"][0] == "invalid"
    kept_plain = {"headers": {"X-Key": None, "X-Tenant": "acme"}, "sensitive_headers": []}
    assert patch_errors(current, kept_plain)["headers.X-Key"][0] == "invalid"
    # Given again, the value may be plain.
    retyped = patch(current, {"headers": {"X-Key": "new-value"}, "sensitive_headers": []})
    assert retyped.headers == {"X-Key": "new-value"} and retyped.sealed_headers == []


def test_a_sealed_header_value_is_bound_to_its_name() -> None:
    destination = create(webhook(headers={"Authorization": TOKEN})).destination
    [header] = destination.sealed_headers
    with pytest.raises(Exception, match="does not open"):
        RING.open(header.sealed, header_aad(WS, destination.id, "X-Other"))


# -- TLS -------------------------------------------------------------------------------


def tls_body(**fields: Any) -> dict[str, Any]:
    return {"client_certificate": CLIENT.certificate, "client_key": CLIENT.key, **fields}


def test_a_client_certificate_is_described_and_its_key_sealed() -> None:
    destination = create(webhook(tls=tls_body(ca_certificate=CA.certificate))).destination
    tls = destination.tls
    assert tls is not None
    assert RING.open(tls.sealed_key, client_key_aad(WS, destination.id)).decode() == CLIENT.key
    shown = destination_fields(destination)["tls"]
    assert isinstance(shown, ClientTlsInfo)
    der = CLIENT.cert.public_bytes(serialization.Encoding.DER)
    assert shown.model_dump() == {
        "client_certificate_subject": "CN=signet-client",
        "client_certificate_sha256": hashlib.sha256(der).hexdigest(),
        "client_certificate_not_after": CLIENT.cert.not_valid_after_utc.isoformat(
            timespec="milliseconds"
        ).replace("+00:00", "Z"),
        "ca_certificate": CA.certificate,
    }
    assert "PRIVATE KEY" not in repr(destination_fields(destination))


def test_a_key_not_of_its_certificate_is_a_field_error() -> None:
    code, message = errors_of(webhook(tls=tls_body(client_key=other_key())))["tls.client_key"]
    assert code == "invalid" and "does not match" in message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_certificate": "not a pem"}, "tls.client_certificate"),
        (
            {"client_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
            "tls.client_key",
        ),
        ({"ca_certificate": "nope"}, "tls.ca_certificate"),
    ],
)
def test_bad_pem_is_a_field_error(fields: dict[str, str], field: str) -> None:
    assert field in errors_of(webhook(tls=tls_body(**fields)))


def test_tls_is_replaced_and_removed_by_patch() -> None:
    current = create(webhook(tls=tls_body())).destination
    other = CA.issue("second-client")
    replaced = patch(
        current, {"tls": {"client_certificate": other.certificate, "client_key": other.key}}
    )
    assert replaced.tls is not None and replaced.tls.subject == "CN=second-client"
    assert patch(replaced, {"tls": None}).tls is None
    assert patch(replaced, {"name": "Renamed"}).tls == replaced.tls


def test_key_rotation_reseals_header_values_and_the_client_key() -> None:
    destination = create(webhook(headers={"Authorization": TOKEN}, tls=tls_body())).destination
    ring = MasterKeyRing.parse(f"{generate_master_key()},{_entry(RING)}")
    resealed = reseal_destination(WS, destination, ring)
    assert resealed is not None
    moved = resealed.destination
    assert moved.tls is not None and moved.tls.sealed_key.key_id == ring.primary_id
    assert ring.open(moved.tls.sealed_key, client_key_aad(WS, moved.id)).decode() == CLIENT.key
    [header] = moved.sealed_headers
    assert header.sealed.key_id == ring.primary_id
    assert ring.open(header.sealed, header_aad(WS, moved.id, "Authorization")).decode() == TOKEN
    assert resealed.headers_tls == 2 and resealed.secrets == 1
    assert reseal_destination(WS, moved, ring) is None


def _entry(ring: MasterKeyRing) -> str:
    import base64

    return f"{ring.primary_id}:{base64.b64encode(ring.keys[ring.primary_id]).decode()}"


def test_a_kept_value_counts_toward_the_8_kib() -> None:
    big = "k" * 5000
    current = create(webhook(headers={"Authorization": big})).destination
    errors = patch_errors(current, {"headers": {"Authorization": None, "X-More": "m" * 4000}})
    assert errors["headers"][0] == "too_large"
    assert patch(current, {"headers": {"Authorization": None, "X-More": "m" * 3000}}).headers
