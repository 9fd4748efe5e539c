"""Idempotency over HTTP: the same key gives the same, derivable event id and exactly one
record, sequentially and under concurrent duplicates."""

from __future__ import annotations

import asyncio

from signet_sdk.contract.events import event_id_for

from signet.kafka.topics import Topics
from signet.settings import IngestSettings
from tests.services.ingest.conftest import Client, Workspaces, seed_event
from tests.services.ingest.topic_reader import EventRecord, contains_ids, read_events


async def _records_of(
    settings: IngestSettings, topics: Topics, client: Client, workspace_id: str, key: str
) -> list[EventRecord]:
    """This workspace's records, read after a sentinel so nothing is still in flight."""
    sentinel = await client.emit(seed_event(resource_id="sentinel"), key)
    assert sentinel.status == 202
    records = await read_events(settings, topics.events, contains_ids(sentinel.json["id"]))
    return [r for r in records if r.key == workspace_id and r.event.id != sentinel.json["id"]]


async def test_same_header_key_twice_gives_one_record_and_the_same_id(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    headers = {"Idempotency-Key": "order-ord_lannister_77-completed"}
    first = await client.emit(seed_event(), workspace.key, headers=headers)
    second = await client.emit(seed_event(), workspace.key, headers=headers)
    assert first.status == second.status == 202
    assert first.json["id"] == second.json["id"]
    # Derivable: another replica, or a direct producer, computes the same id.
    assert first.json["id"] == event_id_for(workspace.id, headers["Idempotency-Key"])
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    assert [r.event.id for r in records] == [first.json["id"]]


async def test_body_id_and_header_are_the_same_key(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    by_body = await client.emit(seed_event(id="k-1"), workspace.key)
    by_header = await client.emit(seed_event(), workspace.key, headers={"Idempotency-Key": "k-1"})
    both = await client.emit(
        seed_event(id="k-1"), workspace.key, headers={"Idempotency-Key": "k-1"}
    )
    assert by_body.json["id"] == by_header.json["id"] == both.json["id"]
    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    assert len(records) == 1


async def test_concurrent_duplicates_produce_once(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    replies = await asyncio.gather(
        *(
            client.emit(seed_event(), workspace.key, headers={"Idempotency-Key": "burst"})
            for _ in range(25)
        )
    )
    assert {r.status for r in replies} == {202}
    assert len({r.json["id"] for r in replies}) == 1
    assert sum("Idempotent-Replayed" in r.headers for r in replies) == 24
    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    assert [r.event.id for r in records] == [replies[0].json["id"]]


async def test_keys_are_scoped_to_the_workspace(client: Client, workspaces: Workspaces) -> None:
    first, second = await workspaces.create(), await workspaces.create()
    one = await client.emit(seed_event(id="shared-key"), first.key)
    two = await client.emit(seed_event(id="shared-key"), second.key)
    assert one.status == two.status == 202
    assert one.json["id"] != two.json["id"]
    assert "Idempotent-Replayed" not in two.headers


async def test_reusing_a_key_for_a_different_event_is_refused(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    first = await client.emit(seed_event(id="k-2"), workspace.key)
    assert first.status == 202
    changed = await client.emit(seed_event(id="k-2", payload={"total_cents": 1}), workspace.key)
    assert changed.status == 422
    assert changed.content_type == "application/problem+json"
    assert changed.json["errors"][0]["field"] == "id"
    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    assert [r.event.id for r in records] == [first.json["id"]]


async def test_without_a_key_every_request_is_a_new_event(
    client: Client, workspaces: Workspaces
) -> None:
    workspace = await workspaces.create()
    one = await client.emit(seed_event(), workspace.key)
    two = await client.emit(seed_event(), workspace.key)
    assert one.json["id"] != two.json["id"]
