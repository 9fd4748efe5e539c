"""``Idempotency-Key`` on the portal's creates, on a real broker with the real router: a
create sent again with its key makes nothing twice and answers as the first did."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.portal.idempotency import OPERATOR_SCOPE
from tests.services.portal.conftest import Answer, PortalClient, RunningPortal
from tests.services.portal.destination_bodies import webhook

pytestmark = pytest.mark.timeout(180)

WORKSPACES = "/v1/workspaces"
DESTINATIONS = "/v1/workspace/destinations"


def a_key() -> str:
    return f"create-{uuid.uuid4()}"


async def post(
    client: PortalClient, path: str, body: Any, key: str | None, bearer: str | None = None
) -> Answer:
    headers = {} if key is None else {"Idempotency-Key": key}
    return await client.call(
        "POST", path, bearer=bearer or client.operator_key, body=body, headers=headers
    )


async def named(client: PortalClient, name: str) -> list[dict[str, Any]]:
    """Every workspace called ``name`` (each test names its own)."""
    found, after = [], ""
    while True:
        page = await client.operator("GET", f"{WORKSPACES}?limit=100{after}")
        assert page.status == 200, page.text
        found += [w for w in page.json["data"] if w["name"] == name]
        if not page.json["has_more"]:
            return found
        after = f"&starting_after={page.json['data'][-1]['id']}"


async def test_a_workspace_created_again_with_its_key_is_the_same_one(
    portal: RunningPortal,
) -> None:
    client, key = portal.client, a_key()
    body = {"name": f"Lannisport {key}", "environment": "production"}

    first = await post(client, WORKSPACES, body, key)
    assert first.status == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await post(client, WORKSPACES, body, key)
    assert again.status == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    # The same workspace and the same publishable key, shown again to the same caller.
    assert again.json == first.json
    assert first.json["publishable_key"].startswith("pk_live_")
    assert [w["id"] for w in await named(client, body["name"])] == [first.json["id"]]

    # Without a key, the same body is a second workspace, as before.
    other = await post(client, WORKSPACES, body, None)
    assert other.status == 201 and other.json["id"] != first.json["id"]


async def test_concurrent_creates_with_one_key_make_one_workspace(portal: RunningPortal) -> None:
    client, key = portal.client, a_key()
    body = {"name": f"Oldtown {key}", "environment": "development"}
    answers = await asyncio.gather(*(post(client, WORKSPACES, body, key) for _ in range(5)))
    assert {a.status for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert len({a.json["publishable_key"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert len(await named(client, body["name"])) == 1


async def test_a_key_reused_for_another_request_is_refused(portal: RunningPortal) -> None:
    client, key = portal.client, a_key()
    first = await post(
        client, WORKSPACES, {"name": f"Riverrun {key}", "environment": "staging"}, key
    )
    assert first.status == 201, first.text

    for path, body in (
        (WORKSPACES, {"name": f"Harrenhal {key}", "environment": "staging"}),  # another body
        (f"{WORKSPACES}/{first.json['id']}/publishable-keys", None),  # another route
    ):
        refused = await post(client, path, body, key)
        assert refused.status == 422, refused.text
        assert refused.json["type"].endswith("/idempotency-conflict")
        assert refused.field_codes() == {"Idempotency-Key": "conflict"}
    assert await named(client, f"Harrenhal {key}") == []
    workspace = await client.operator("GET", f"{WORKSPACES}/{first.json['id']}")
    assert len(workspace.json["publishable_keys"]) == 1


async def test_a_request_refused_before_it_made_anything_leaves_its_key_free(
    portal: RunningPortal,
) -> None:
    client, key = portal.client, a_key()
    refused = await post(client, WORKSPACES, {"name": "", "environment": "staging"}, key)
    assert refused.status == 400 and "name" in refused.field_errors()
    created = await post(client, WORKSPACES, {"name": f"Pyke {key}", "environment": "staging"}, key)
    assert created.status == 201 and "Idempotent-Replayed" not in created.headers


@pytest.mark.parametrize("key", ["", "with space", "é", "x" * 256])
async def test_a_malformed_key_is_a_field_error(portal: RunningPortal, key: str) -> None:
    body = {"name": "Sunspear", "environment": "staging"}
    answer = await post(portal.client, WORKSPACES, body, key)
    assert answer.status == 400, answer.text
    assert set(answer.field_errors()) == {"Idempotency-Key"}


async def test_a_publishable_key_issued_again_with_its_key_is_the_same_one(
    portal: RunningPortal,
) -> None:
    client, key = portal.client, a_key()
    workspace = await client.new_workspace()
    path = f"{WORKSPACES}/{workspace['id']}/publishable-keys"
    first = await post(client, path, None, key)
    again = await post(client, path, None, key)
    assert (first.status, again.status) == (201, 201), again.text
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    read = await client.operator("GET", f"{WORKSPACES}/{workspace['id']}")
    assert len(read.json["publishable_keys"]) == 2  # the first and this one, not three


async def test_a_destination_created_again_with_its_key_is_the_same_one(
    portal: RunningPortal,
) -> None:
    client, key = portal.client, a_key()
    workspace = await client.new_workspace()
    token = await client.session(workspace["id"])
    body = webhook(name="Orders")
    first = await post(client, DESTINATIONS, body, key, token)
    again = await post(client, DESTINATIONS, body, key, token)
    assert (first.status, again.status) == (201, 201), again.text
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert first.json["secret"].startswith("whsec_")  # generated, and shown again
    listed = await client.workspace(token, "GET", DESTINATIONS)
    assert [d["id"] for d in listed.json["data"]] == [first.json["id"]]

    # Keys are the caller's own: another workspace's session with the same key creates.
    elsewhere = await client.session((await client.new_workspace())["id"])
    theirs = await post(client, DESTINATIONS, body, key, elsewhere)
    assert theirs.status == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json["id"] != first.json["id"]


async def test_the_shown_once_secret_is_sealed_at_rest(portal: RunningPortal) -> None:
    client, key = portal.client, a_key()
    body = {"name": f"Starfall {key}", "environment": "production"}
    created = await post(client, WORKSPACES, body, key)
    assert created.status == 201, created.text
    database = portal.service.delivery_log.store.database
    async with database.read() as conn:
        (row,) = await conn.fetch(
            "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", OPERATOR_SCOPE, key
        )
    stored = repr(row)
    assert created.json["publishable_key"] not in stored
    assert created.json["publishable_key"][-8:] not in stored
    assert row["applied_at"] is not None


async def test_a_rotation_sent_again_with_its_key_rotates_once(portal: RunningPortal) -> None:
    client, key = portal.client, a_key()
    workspace = await client.new_workspace()
    token = await client.session(workspace["id"])
    created = await post(client, DESTINATIONS, webhook(name="Orders"), None, token)
    assert created.status == 201, created.text
    path = f"{DESTINATIONS}/{created.json['id']}/rotate-secret"

    first = await post(client, path, {"overlap_seconds": 3600}, key, token)
    again = await post(client, path, {"overlap_seconds": 3600}, key, token)
    assert (first.status, again.status) == (200, 200), again.text
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert first.json["secret"].startswith("whsec_")  # the new one, shown again
    assert len(first.json["secrets"]) == 2  # it and the overlapping old one: not three

    other = await post(client, path, {"overlap_seconds": 3600}, a_key(), token)
    assert other.status == 200 and other.json["secret"] != first.json["secret"]
    assert len(other.json["secrets"]) == 3
