"""The workspace API on a real broker with the real router: destinations, roles, scoping."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from signet.records import codec
from signet.security.secrets import secret_aad
from tests.services.portal.conftest import Answer, PortalClient, RunningPortal

pytestmark = pytest.mark.timeout(180)

DESTINATIONS = "/v1/workspace/destinations"


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def assert_problem(answer: Answer, status: int) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")


async def admin_of_new_workspace(client: PortalClient, **session: Any) -> tuple[str, str]:
    workspace = await client.new_workspace()
    return workspace["id"], await client.session(workspace["id"], **session)


def webhook(**fields: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "name": "Primary",
        "url": "https://hooks.example.com/in",
        "event_types": ["order.*"],
        **fields,
    }


async def test_destinations_lifecycle_is_read_your_writes(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await admin_of_new_workspace(client)

    # Created with a generated secret: shown once, in the 201.
    created = await client.workspace(
        token, "POST", DESTINATIONS, webhook(timeout_seconds=5, rate_limit_per_second=0.5)
    )
    assert created.status == 201, created.text
    generated = created.json["secret"]
    destination_id = created.json["id"]
    assert generated.startswith("whsec_") and destination_id.startswith("dst_")
    assert created.headers["Location"] == f"{DESTINATIONS}/{destination_id}"
    assert created.json["secret_hint"] == "…" + generated[-4:]
    assert created.json["event_types"] == ["order.*"] and created.json["timeout_seconds"] == 5
    assert created.json["rate_limit_per_second"] == 0.5

    fetched = await client.workspace(token, "GET", f"{DESTINATIONS}/{destination_id}")
    assert fetched.status == 200
    assert fetched.json == {k: v for k, v in created.json.items() if k != "secret"}

    # Created with the customer's own secret: never echoed.
    mine = own_whsec()
    second = await client.workspace(
        token, "POST", DESTINATIONS, webhook(name="Audit", secret=mine, event_types=["*"])
    )
    assert second.status == 201, second.text
    assert "secret" not in second.json
    second_id = second.json["id"]

    listed = await client.workspace(token, "GET", DESTINATIONS)
    assert [d["id"] for d in listed.json["data"]] == [destination_id, second_id]

    # The snapshot holds sealed secrets that open, with the ring, to the originals.
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None
    for dst_id, plain in ((destination_id, generated), (second_id, mine)):
        stored = snapshot.destination(dst_id)
        assert stored is not None
        [secret] = stored.secrets
        opened = portal.ring.open(secret.sealed, secret_aad(workspace_id, dst_id))
        assert opened.decode() == plain
        assert plain.encode() not in codec.encode(snapshot)

    # PATCH: a partial update, visible in the answer and at once in a read.
    patched = await client.workspace(
        token,
        "PATCH",
        f"{DESTINATIONS}/{destination_id}",
        {
            "name": "Primary (EU)",
            "enabled": False,
            "timeout_seconds": None,
            "rate_limit_per_second": None,
        },
    )
    assert patched.status == 200, patched.text
    assert patched.json["name"] == "Primary (EU)" and patched.json["enabled"] is False
    assert patched.json["timeout_seconds"] is None
    assert patched.json["rate_limit_per_second"] is None  # null removes the limit
    assert patched.json["url"] == created.json["url"]
    assert patched.json["secrets"] == created.json["secrets"]  # the secret is kept
    again = await client.workspace(token, "GET", f"{DESTINATIONS}/{destination_id}")
    assert again.json == patched.json

    # DELETE: gone at once, and a second delete is a 404.
    deleted = await client.workspace(token, "DELETE", f"{DESTINATIONS}/{destination_id}")
    assert deleted.status == 204, deleted.text
    assert_problem(await client.workspace(token, "GET", f"{DESTINATIONS}/{destination_id}"), 404)
    assert_problem(await client.workspace(token, "DELETE", f"{DESTINATIONS}/{destination_id}"), 404)
    remaining = await client.workspace(token, "GET", DESTINATIONS)
    assert [d["id"] for d in remaining.json["data"]] == [second_id]

    # Neither secret appears in any response but the one 201 that showed the generated one.
    assert sum(generated in text for text in client.seen) == 1
    assert not any(mine in text for text in client.seen)


async def test_a_slack_channel_url_is_never_returned(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, token = await admin_of_new_workspace(client)
    url = "https://hooks.slack.com/services/T01/B02/" + base64.b32encode(os.urandom(15)).decode()
    created = await client.workspace(
        token, "POST", DESTINATIONS, {"type": "slack", "name": "Alerts", "webhook_url": url}
    )
    assert created.status == 201, created.text
    assert created.json["type"] == "slack" and "secret" not in created.json
    listed = await client.workspace(token, "GET", DESTINATIONS)
    assert [d["type"] for d in listed.json["data"]] == ["slack"]
    secret_part = url.rsplit("/", 1)[1]
    assert not any(secret_part in text for text in client.seen)
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None and secret_part.encode() not in codec.encode(snapshot)


async def test_other_signature_schemes(portal: RunningPortal) -> None:
    client = portal.client
    _, token = await admin_of_new_workspace(client)
    ed = await client.workspace(
        token, "POST", DESTINATIONS, webhook(signature_scheme="standard-webhooks-ed25519")
    )
    assert ed.status == 201, ed.text
    assert "secret" not in ed.json  # the private key never leaves; the public key is shown
    assert ed.json["secrets"][0]["public_key"].startswith("whpk_")
    plain = await client.workspace(
        token,
        "POST",
        DESTINATIONS,
        webhook(signature_scheme="hmac-sha256", secret="my-own-plain-text-secret"),
    )
    assert plain.status == 201 and "secret" not in plain.json
    assert plain.json["signature_scheme"] == "hmac-sha256"


async def test_a_viewer_reads_but_cannot_write(portal: RunningPortal) -> None:
    client = portal.client
    workspace_id, admin = await admin_of_new_workspace(client)
    viewer = await client.session(workspace_id, role="viewer")
    created = await client.workspace(admin, "POST", DESTINATIONS, webhook())
    destination_id = created.json["id"]
    one = f"{DESTINATIONS}/{destination_id}"

    assert (await client.workspace(viewer, "GET", "/v1/workspace")).status == 200
    assert (await client.workspace(viewer, "GET", DESTINATIONS)).status == 200
    assert (await client.workspace(viewer, "GET", one)).status == 200
    for method, path, body in (
        ("POST", DESTINATIONS, webhook()),
        ("PATCH", one, {"name": "hacked"}),
        ("DELETE", one, None),
    ):
        answer = await client.workspace(viewer, method, path, body)
        assert_problem(answer, 403)
    after = await client.workspace(viewer, "GET", one)
    assert after.json["name"] == "Primary"
    assert len((await client.workspace(viewer, "GET", DESTINATIONS)).json["data"]) == 1


async def test_another_workspaces_destination_is_404(portal: RunningPortal) -> None:
    client = portal.client
    _, token_a = await admin_of_new_workspace(client)
    _, token_b = await admin_of_new_workspace(client)
    theirs = await client.workspace(token_b, "POST", DESTINATIONS, webhook(name="B's"))
    one = f"{DESTINATIONS}/{theirs.json['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)):
        assert_problem(await client.workspace(token_a, method, one, body), 404)
    assert (await client.workspace(token_a, "GET", DESTINATIONS)).json["data"] == []
    untouched = await client.workspace(token_b, "GET", one)
    assert untouched.status == 200 and untouched.json["name"] == "B's"


async def test_origins_are_enforced(portal: RunningPortal) -> None:
    client = portal.client
    _workspace_id, token = await admin_of_new_workspace(
        client, allowed_origins=["https://app.example.com"]
    )
    for origin, status in (
        ("https://app.example.com", 200),
        ("https://portal.example.com", 200),  # the portal's own embed page
        ("https://evil.example.com", 403),
        ("null", 403),
    ):
        answer = await client.call("GET", "/v1/workspace", bearer=token, headers={"Origin": origin})
        assert answer.status == status, (origin, answer.text)
    # No Origin header: a server-side call, admitted.
    assert (await client.workspace(token, "GET", "/v1/workspace")).status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "webhook", "url": "https://a.example"}, "name"),
        (webhook(url="http://a.example/in"), "url"),
        (webhook(url="not a url"), "url"),
        (webhook(event_types=[]), "event_types"),
        (webhook(event_types=["order created"]), "event_types[0]"),
        (webhook(signature_scheme="md5"), "signature_scheme"),
        (webhook(secret="whsec_tooshort"), "secret"),
        (webhook(timeout_seconds=60), "timeout_seconds"),
        (webhook(rate_limit_per_second=0), "rate_limit_per_second"),
        ({"type": "slack", "name": "A", "rate_limit_per_second": 1}, "rate_limit_per_second"),
        (webhook(retry_policy={"max_attempts": 1000}), "retry_policy.max_attempts"),
        (webhook(headers={"Webhook-Id": "forged"}), "headers.Webhook-Id"),  # a reserved name
        ({"type": "slack", "name": "A", "webhook_url": "https://example.com/x"}, "webhook_url"),
        ({"type": "carrier-pigeon", "name": "A"}, "type"),
        ([webhook()], "body"),
    ],
)
async def test_bad_destination_bodies_name_the_field(
    portal: RunningPortal, body: Any, field: str
) -> None:
    client = portal.client
    workspace_id, token = await admin_of_new_workspace(client)
    answer = await client.workspace(token, "POST", DESTINATIONS, body)
    assert_problem(answer, 400)
    assert field in answer.field_errors(), answer.text
    snapshot = portal.service.view.workspace(workspace_id)
    assert snapshot is not None and snapshot.destinations == []  # nothing left behind


async def test_bad_patches_name_the_field_and_change_nothing(portal: RunningPortal) -> None:
    client = portal.client
    _, token = await admin_of_new_workspace(client)
    created = await client.workspace(token, "POST", DESTINATIONS, webhook())
    one = f"{DESTINATIONS}/{created.json['id']}"
    for body, field in (
        ({"secret": own_whsec()}, "secret"),
        ({"signature_scheme": "github"}, "signature_scheme"),
        ({"url": "ftp://x"}, "url"),
        ({"event_types": None}, "event_types"),
        ({"name": ""}, "name"),
        ({"rate_limit_per_second": "fast"}, "rate_limit_per_second"),
        ({"nickname": "x"}, "nickname"),
    ):
        answer = await client.workspace(token, "PATCH", one, body)
        assert_problem(answer, 400)
        assert field in answer.field_errors(), answer.text
    unchanged = await client.workspace(token, "GET", one)
    assert unchanged.json == {k: v for k, v in created.json.items() if k != "secret"}
    garbled = await client.call(
        "PATCH", one, bearer=token, raw=b"{", headers={"Content-Type": "application/json"}
    )
    assert_problem(garbled, 400)


async def test_a_signature_header_is_stored_shown_and_cleared(portal: RunningPortal) -> None:
    client = portal.client
    _, token = await admin_of_new_workspace(client)
    created = await client.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        webhook(signature_scheme="github", signature_header="X-Acme-Signature-256"),
    )
    assert created.status == 201, created.text
    assert created.json["signature_header"] == "x-acme-signature-256"
    path = f"/v1/workspace/destinations/{created.json['id']}"
    read = await client.workspace(token, "GET", path)
    assert read.json["signature_header"] == "x-acme-signature-256"

    cleared = await client.workspace(token, "PATCH", path, {"signature_header": None})
    assert cleared.status == 200 and cleared.json["signature_header"] is None
    refused = await client.workspace(
        token, "POST", "/v1/workspace/destinations", webhook(signature_header="x-acme")
    )
    assert_problem(refused, 400)
    assert set(refused.field_errors()) == {"signature_header"}
