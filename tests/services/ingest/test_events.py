"""POST /v1/events: a 202 means the record is on the topic, keyed and partitioned for the
router; every invalid request is a 4xx problem naming the field and leaves nothing behind."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from signet.kafka.topics import Topics
from signet.settings import IngestSettings
from tests.services.ingest.conftest import (
    SEED_PAYLOAD,
    Client,
    SeededWorkspace,
    Workspaces,
    seed_event,
)
from tests.services.ingest.topic_reader import contains_ids, kafka_partition, read_events

EVENT_ID = r"evt_[0-9A-HJKMNP-TV-Z]{26}"


async def test_accepted_event_is_on_the_topic_keyed_by_workspace(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    # Several workspaces, so the keys spread over partitions and a wrong partitioner shows.
    created = [await workspaces.create() for _ in range(6)]
    before = int(time.time() * 1000)
    ids: dict[str, str] = {}
    for workspace in created:
        reply = await client.emit(seed_event(), workspace.key)
        assert reply.status == 202, reply.body
        assert reply.content_type == "application/json"
        assert set(reply.json) == {"id"}
        ids[workspace.id] = reply.json["id"]
        assert "Idempotent-Replayed" not in reply.headers
    after = int(time.time() * 1000)

    records = await read_events(ingest_settings, topics.events, contains_ids(*ids.values()))
    ours = {r.event.id: r for r in records if r.event.id in ids.values()}
    assert len(ours) == len(created)
    partitions = set()
    for workspace_id, event_id in ids.items():
        record = ours[event_id]
        assert record.key == workspace_id
        assert record.partition == kafka_partition(workspace_id, ingest_settings.partitions)
        partitions.add(record.partition)
        event = record.event
        assert event.workspace_id == workspace_id
        assert event.type == "order.completed"
        assert (event.resource, event.resource_id) == ("order", "ord_lannister_77")
        assert event.payload == orjson.dumps(SEED_PAYLOAD)  # compact JSON bytes
        assert orjson.loads(event.payload) == SEED_PAYLOAD
        assert event.source == "http"
        assert before <= event.created_at <= after
    assert len(partitions) > 1, "six workspaces all on one partition: keys are not spread"


async def test_payload_up_to_the_limit_is_accepted_intact(
    client: Client, workspaces: Workspaces, ingest_settings: IngestSettings, topics: Topics
) -> None:
    workspace = await workspaces.create()
    # Big enough to arrive in many TCP segments, just under the body limit.
    filler = "é" * ((ingest_settings.max_payload_bytes - 400) // 2)
    payload = {"blob": filler, "n": 18446744073709551615, "nested": {"a": [1, 2.5, None]}}
    body = orjson.dumps(seed_event(payload=payload))
    assert len(body) <= ingest_settings.max_payload_bytes
    reply = await client.emit(None, workspace.key, raw=body)
    assert reply.status == 202, reply.body[:500]
    event_id = reply.json["id"]
    records = await read_events(ingest_settings, topics.events, contains_ids(event_id))
    [record] = [r for r in records if r.event.id == event_id]
    assert orjson.loads(record.event.payload) == payload


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


INVALID: list[tuple[str, bytes, dict[str, str], int, str]] = [
    # (case, raw body, extra headers, status, field named)
    ("bad json", b'{"event": ', {}, 400, "body"),
    ("empty body", b"", {}, 400, "body"),
    ("not utf-8", b'\xff\xfe{"event":"a"}', {}, 400, "body"),
    ("lone surrogate", b'{"event":"a\\ud800"}', {}, 400, "body"),
    (
        "number too big for a double",
        orjson.dumps(seed_event())[:-1] + b',"x":1e400}',
        {},
        400,
        "body",
    ),
    ("json nested beyond the parser", b"[" * 5000 + b"]" * 5000, {}, 400, "body"),
    ("array body", b"[]", {}, 400, "body"),
    ("string body", b'"order.completed"', {}, 400, "body"),
    ("wrong content type", orjson.dumps(seed_event()), {"Content-Type": "text/plain"}, 415, "body"),
    (
        "missing event",
        orjson.dumps({k: v for k, v in seed_event().items() if k != "event"}),
        {},
        400,
        "event",
    ),
    ("event not a string", orjson.dumps(seed_event(event=42)), {}, 400, "event"),
    ("event with spaces", orjson.dumps(seed_event(event="order completed")), {}, 400, "event"),
    ("event with a wildcard", orjson.dumps(seed_event(event="order.*")), {}, 400, "event"),
    ("event empty segment", orjson.dumps(seed_event(event="order..completed")), {}, 400, "event"),
    ("event too long", orjson.dumps(seed_event(event="a" * 129)), {}, 400, "event"),
    ("event reserved", orjson.dumps(seed_event(event="signet.test")), {}, 400, "event"),
    (
        "missing resource",
        orjson.dumps({k: v for k, v in seed_event().items() if k != "resource"}),
        {},
        400,
        "resource",
    ),
    ("resource empty", orjson.dumps(seed_event(resource="")), {}, 400, "resource"),
    ("resource blank", orjson.dumps(seed_event(resource="   ")), {}, 400, "resource"),
    ("resource not a string", orjson.dumps(seed_event(resource=["order"])), {}, 400, "resource"),
    (
        "resource control char",
        orjson.dumps(seed_event(resource="ord\u0000er")),
        {},
        400,
        "resource",
    ),
    (
        "resource_id too long",
        orjson.dumps(seed_event(resource_id="r" * 257)),
        {},
        400,
        "resource_id",
    ),
    ("resource_id null", orjson.dumps(seed_event(resource_id=None)), {}, 400, "resource_id"),
    (
        "missing payload",
        orjson.dumps({k: v for k, v in seed_event().items() if k != "payload"}),
        {},
        400,
        "payload",
    ),
    ("payload array", orjson.dumps(seed_event(payload=[1, 2])), {}, 400, "payload"),
    ("payload string", orjson.dumps(seed_event(payload="{}")), {}, 400, "payload"),
    ("payload null", orjson.dumps(seed_event(payload=None)), {}, 400, "payload"),
    (
        "payload nested too deep to re-serialise",
        orjson.dumps(seed_event())[:-1]
        + b',"payload":'
        + b'{"a":' * 300
        + b"{}"
        + b"}" * 300
        + b"}",
        {},
        400,
        "payload",
    ),
    ("unknown field", orjson.dumps(seed_event(resourceId="x")), {}, 400, "resourceId"),
    ("id not a string", orjson.dumps(seed_event(id=7)), {}, 400, "id"),
    ("id empty", orjson.dumps(seed_event(id="")), {}, 400, "id"),
    ("id with a space", orjson.dumps(seed_event(id="order 77")), {}, 400, "id"),
    ("id too long", orjson.dumps(seed_event(id="k" * 256)), {}, 400, "id"),
    (
        "idempotency header bad chars",
        orjson.dumps(seed_event()),
        {"Idempotency-Key": "a b"},
        400,
        "Idempotency-Key",
    ),
    (
        "idempotency header too long",
        orjson.dumps(seed_event()),
        {"Idempotency-Key": "k" * 256},
        400,
        "Idempotency-Key",
    ),
    (
        "header and id differ",
        orjson.dumps(seed_event(id="one")),
        {"Idempotency-Key": "two"},
        400,
        "id",
    ),
    (
        "body over the limit",
        orjson.dumps(seed_event(payload={"blob": "x" * (256 * 1024)})),
        {},
        413,
        "body",
    ),
]


@pytest.fixture(scope="module")
async def rejecting_workspace(workspaces: Workspaces) -> SeededWorkspace:
    return await workspaces.create()


async def _send(client: Client, key: str, raw: bytes, headers: dict[str, str]) -> Any:
    return await client.emit(None, key, raw=raw, headers=headers)


@pytest.mark.parametrize(
    ("raw", "headers", "status", "field"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
async def test_invalid_request_is_a_problem_naming_the_field(
    client: Client,
    rejecting_workspace: SeededWorkspace,
    raw: bytes,
    headers: dict[str, str],
    status: int,
    field: str,
) -> None:
    reply = await _send(client, rejecting_workspace.key, raw, headers)
    assert reply.status == status, reply.body[:300]
    assert reply.content_type == "application/problem+json"
    problem = reply.json
    assert problem["status"] == status
    assert problem["type"].startswith("https://signet.dev/problems/")
    assert problem["title"] and problem["detail"]
    named = [e["field"] for e in problem["errors"]]
    assert field in named, problem
    for error in problem["errors"]:
        assert set(error) == {"field", "code", "message"} and error["message"]


async def test_rejections_leave_nothing_on_the_topic(
    client: Client,
    workspaces: Workspaces,
    ingest_settings: IngestSettings,
    topics: Topics,
) -> None:
    workspace = await workspaces.create()
    for case, raw, headers, status, _ in INVALID:
        reply = await _send(client, workspace.key, raw, headers)
        assert reply.status == status, case
    # Same workspace → same partition, in order: once the sentinel is there, anything the
    # rejections had produced would be there too.
    sentinel = await client.emit(seed_event(resource_id="sentinel"), workspace.key)
    assert sentinel.status == 202
    records = await read_events(ingest_settings, topics.events, contains_ids(sentinel.json["id"]))
    assert [r.event.id for r in records if r.key == workspace.id] == [sentinel.json["id"]]


async def test_several_errors_are_reported_together(
    client: Client, rejecting_workspace: SeededWorkspace
) -> None:
    reply = await client.emit(
        {"event": "bad type!", "resource": "", "payload": [], "extra": 1}, rejecting_workspace.key
    )
    assert reply.status == 400
    named = {e["field"]: e["code"] for e in reply.json["errors"]}
    assert named == {
        "extra": "unknown",
        "resource_id": "required",
        "event": "format",
        "resource": "length",
        "payload": "type",
    }


async def test_unknown_route_and_wrong_method_are_problems(client: Client) -> None:
    missing = await client.request("GET", "/v1/nothing")
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    wrong = await client.request("GET", "/v1/events")
    assert wrong.status == 405 and wrong.content_type == "application/problem+json"
