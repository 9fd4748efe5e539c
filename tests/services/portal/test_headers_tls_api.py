"""Custom headers and mutual TLS through the workspace API, on the real broker and router:
what a create and a PATCH answer, what a read shows, what is stored sealed."""

from __future__ import annotations

from typing import Any

import pytest

from signet.security.secrets import client_key_aad, header_aad
from tests.certificates import TestCa, other_key
from tests.services.portal.conftest import RunningPortal
from tests.services.portal.test_workspace_api import (
    DESTINATIONS,
    admin_of_new_workspace,
    assert_problem,
    webhook,
)

pytestmark = pytest.mark.timeout(180)

CA = TestCa()
CLIENT = CA.issue("signet-client")
TOKEN = "Bearer sk_live_0123456789abcd"


def tls(**fields: Any) -> dict[str, Any]:
    return {"client_certificate": CLIENT.certificate, "client_key": CLIENT.key, **fields}


async def test_headers_and_tls_are_shown_masked_and_stored_sealed(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await admin_of_new_workspace(client)
    body = webhook(
        headers={"Authorization": TOKEN, "X-Tenant": "acme"},
        tls=tls(ca_certificate=CA.certificate),
    )
    created = await client.workspace(token, "POST", DESTINATIONS, body)
    assert created.status == 201, created.text
    one = f"{DESTINATIONS}/{created.json['id']}"
    read = await client.workspace(token, "GET", one)
    for answer in (created.json, read.json):
        assert answer["headers"] == {"X-Tenant": "acme", "Authorization": "…abcd"}
        assert answer["sensitive_headers"] == ["Authorization"]
        assert answer["tls"]["client_certificate_subject"] == "CN=signet-client"
        assert answer["tls"]["ca_certificate"] == CA.certificate
        assert set(answer["tls"]) == {
            "client_certificate_subject",
            "client_certificate_sha256",
            "client_certificate_not_after",
            "ca_certificate",
        }
        assert TOKEN not in str(answer) and "PRIVATE KEY" not in str(answer)

    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None
    [stored] = snapshot.destinations
    [header] = stored.sealed_headers
    ring = portal.ring
    assert ring.open(header.sealed, header_aad(workspace_id, stored.id, "Authorization")) == (
        TOKEN.encode()
    )
    assert stored.tls is not None
    assert ring.open(stored.tls.sealed_key, client_key_aad(workspace_id, stored.id)) == (
        CLIENT.key.encode()
    )

    # PATCH: headers replace the map, the sensitive one given as null is kept
    patched = await client.workspace(
        token, "PATCH", one, {"headers": {"Authorization": None, "X-Region": "eu"}, "tls": None}
    )
    assert patched.status == 200, patched.text
    assert patched.json["headers"] == {"X-Region": "eu", "Authorization": "…abcd"}
    assert patched.json["tls"] is None


async def test_bad_headers_and_a_mismatched_key_are_400s_naming_the_field(
    portal: RunningPortal,
) -> None:
    client = portal.client
    workspace_id, token = await admin_of_new_workspace(client)
    for body, field in (
        (webhook(tls=tls(client_key=other_key())), "tls.client_key"),
        (webhook(headers={"Webhook-Signature": "forged"}), "headers.Webhook-Signature"),
        (webhook(headers={"X-A": "a\r\nB: c"}), "headers.X-A"),
        (webhook(headers={"X-A": "1"}, sensitive_headers=["X-B"]), "sensitive_headers"),
    ):
        answer = await client.workspace(token, "POST", DESTINATIONS, body)
        assert_problem(answer, 400)
        assert field in answer.field_errors(), answer.text
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None and snapshot.destinations == []
