"""Publishable-key authentication: every failure is a 401 problem saying which, and a key
only ever writes into its own workspace."""

from __future__ import annotations

import time

import pytest

from signet.kafka.topics import Topics
from signet.settings import IngestSettings
from tests.services.ingest.conftest import Client, Workspaces, new_key, seed_event
from tests.services.ingest.topic_reader import contains_ids, read_events


def _assert_unauthorized(status: int, problem: dict[str, object], says: str) -> None:
    assert status == 401
    assert problem["status"] == 401
    assert problem["type"] == "https://signet.dev/problems/unauthorized"
    assert says in str(problem["detail"]).lower(), problem
    assert problem["errors"] == [
        {"field": "Authorization", "code": "unauthorized", "message": problem["detail"]}
    ]


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Basic dXNlcjpwYXNz", "bearer"),
        ("Bearer", "bearer"),
        ("Bearer    ", "bearer"),
        ("Bearer sk_live_abcdefghijklmnop", "malformed"),
        ("Bearer pk_prod_abcdefghijklmnop", "malformed"),
        ("Bearer pk_live_short", "malformed"),
        ("Bearer pk_live_has spaces inside", "malformed"),
        ("Bearer pk_live_bad!chars$$$$$$$$$$", "malformed"),
        ("Bearer pk_live_" + "a" * 300, "malformed"),
        ("Bearer pk_live_\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "malformed"),
    ],
    ids=[
        "missing",
        "empty",
        "basic",
        "no-token",
        "blank-token",
        "secret-key-prefix",
        "unknown-prefix",
        "too-short",
        "spaces",
        "bad-chars",
        "too-long",
        "non-ascii",
    ],
)
async def test_bad_authorization_header_is_401(
    client: Client, authorization: str | None, says: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = await client.emit(seed_event(), None, headers=headers)
    assert reply.content_type == "application/problem+json"
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    _assert_unauthorized(reply.status, reply.json, says)


async def test_unknown_key_is_401(client: Client, workspaces: Workspaces) -> None:
    await workspaces.create()  # some key exists, just not this one
    for path in ("/v1/events", "/v1/events/bulk"):
        reply = await client.request("POST", path, body=seed_event(), key=new_key())
        _assert_unauthorized(reply.status, reply.json, "unknown publishable key")


async def test_revoked_key_is_401_and_other_keys_keep_working(
    client: Client, workspaces: Workspaces
) -> None:
    workspace = await workspaces.create(keys=2)
    assert (await client.emit(seed_event(), workspace.keys[0])).status == 202
    await workspaces.revoke(workspace, 0, at=int(time.time() * 1000) - 1)
    reply = await client.emit(seed_event(), workspace.keys[0])
    _assert_unauthorized(reply.status, reply.json, "revoked")
    assert workspace.config.publishable_keys[0].hint in reply.json["detail"]
    assert workspace.keys[0] not in reply.body.decode()  # the key itself is never echoed
    assert (await client.emit(seed_event(), workspace.keys[1])).status == 202


async def test_key_revoked_in_the_future_still_works_until_then(
    client: Client, workspaces: Workspaces
) -> None:
    workspace = await workspaces.create()
    await workspaces.revoke(workspace, 0, at=int(time.time() * 1000) + 3_600_000)
    assert (await client.emit(seed_event(), workspace.key)).status == 202


async def test_a_key_writes_only_into_its_own_workspace(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    first, second = await workspaces.create(), await workspaces.create(environment="development")
    assert second.key.startswith("pk_test_")
    one = (await client.emit(seed_event(), first.key)).json["id"]
    two = (await client.emit(seed_event(), second.key)).json["id"]
    records = await read_events(ingest_settings, topics.events, contains_ids(one, two))
    by_id = {r.event.id: r for r in records}
    assert (by_id[one].key, by_id[one].event.workspace_id) == (first.id, first.id)
    assert (by_id[two].key, by_id[two].event.workspace_id) == (second.id, second.id)


async def test_auth_is_checked_before_the_body(client: Client) -> None:
    reply = await client.emit(None, new_key(), raw=b"not json at all")
    assert reply.status == 401
