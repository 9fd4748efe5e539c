"""POST /v1/events/bulk: per-event results, only the valid events produced, limits."""

from __future__ import annotations

from typing import Any

import orjson

from signet.kafka.topics import Topics
from signet.settings import IngestSettings
from tests.services.ingest.conftest import Client, Workspaces, seed_event
from tests.services.ingest.topic_reader import EventRecord, contains_ids, read_events


async def _records_of(
    settings: IngestSettings, topics: Topics, client: Client, workspace_id: str, key: str
) -> list[EventRecord]:
    sentinel = await client.emit(seed_event(resource_id="sentinel"), key)
    assert sentinel.status == 202
    records = await read_events(settings, topics.events, contains_ids(sentinel.json["id"]))
    return [r for r in records if r.key == workspace_id and r.event.id != sentinel.json["id"]]


async def test_mixed_batch_accepts_the_valid_and_names_what_is_wrong_with_the_rest(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    events: list[Any] = [
        seed_event(resource_id="ord_1"),
        seed_event(event="no spaces allowed"),
        seed_event(resource_id="ord_2", payload={"n": 2}),
        "not an object",
        seed_event(payload=[]),
        seed_event(resource_id="ord_3", id="bulk-key-3"),
    ]
    reply = await client.bulk({"events": events}, workspace.key)
    assert reply.status == 202, reply.body
    body = reply.json
    assert (body["accepted"], body["rejected"], body["failed"]) == (3, 3, 0)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert results[1]["error"]["status"] == 400
    assert results[1]["error"]["errors"][0]["field"] == "event"
    assert results[3]["error"]["errors"][0]["field"] == ""
    assert results[4]["error"]["errors"][0]["field"] == "payload"
    assert results[5]["id"] != results[0]["id"]

    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    by_id = {r.event.id: r.event for r in records}
    accepted = [results[i]["id"] for i in (0, 2, 5)]
    assert sorted(by_id) == sorted(accepted)
    assert by_id[results[2]["id"]].payload == orjson.dumps({"n": 2})
    assert by_id[results[5]["id"]].resource_id == "ord_3"


async def test_batch_with_nothing_valid_is_400_naming_each_event(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    reply = await client.bulk(
        {"events": [seed_event(resource=""), 5, seed_event(payload=None)]}, workspace.key
    )
    assert reply.status == 400
    assert reply.content_type == "application/problem+json"
    named = [e["field"] for e in reply.json["errors"]]
    assert named == ["events[0].resource", "events[1]", "events[2].payload"]
    assert await _records_of(ingest_settings, topics, client, workspace.id, workspace.key) == []


async def test_batch_limits(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings
) -> None:
    workspace = await workspaces.create()
    limit = ingest_settings.max_bulk_events
    too_many = await client.bulk({"events": [seed_event()] * (limit + 1)}, workspace.key)
    assert too_many.status == 413
    assert too_many.json["errors"][0]["field"] == "events"
    assert str(limit) in too_many.json["errors"][0]["message"]
    for body, field in [
        ({"events": []}, "events"),
        ({"events": {"0": seed_event()}}, "events"),
        ({}, "events"),
        ({"events": [seed_event()], "extra": True}, "extra"),
        ([seed_event()], "body"),
    ]:
        reply = await client.bulk(body, workspace.key)
        assert reply.status == 400, body
        assert reply.json["errors"][0]["field"] == field


async def test_a_full_batch_is_produced_concurrently_and_acknowledged(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    limit = ingest_settings.max_bulk_events
    events = [seed_event(resource_id=f"ord_{i}", payload={"i": i}) for i in range(limit)]
    reply = await client.bulk({"events": events}, workspace.key)
    assert reply.status == 202
    assert reply.json["accepted"] == limit
    ids = [r["id"] for r in reply.json["results"]]
    assert len(set(ids)) == limit
    records = await read_events(ingest_settings, topics.events, contains_ids(*ids))
    ours = {r.event.id: r.event for r in records if r.key == workspace.id}
    assert set(ours) == set(ids)
    assert all(ours[ids[i]].payload == orjson.dumps({"i": i}) for i in range(limit))


async def test_bulk_idempotency_by_event_id_and_by_header(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    batch = {"events": [seed_event(id="dup"), seed_event(id="dup"), seed_event()]}
    headers = {"Idempotency-Key": "batch-7"}
    first = await client.bulk(batch, workspace.key, headers=headers)
    again = await client.bulk(batch, workspace.key, headers=headers)
    assert first.status == again.status == 202
    ids = [r["id"] for r in first.json["results"]]
    assert ids[0] == ids[1]  # the same key twice in one batch: one event
    assert [r["id"] for r in again.json["results"]] == ids
    records = await _records_of(ingest_settings, topics, client, workspace.id, workspace.key)
    assert sorted(r.event.id for r in records) == sorted({ids[0], ids[2]})
