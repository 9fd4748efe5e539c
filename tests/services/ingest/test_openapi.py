"""The ingest's ``/openapi.json``: derived from the handlers' models, valid OpenAPI 3.1, and
stating the limits the running process enforces (its settings, not the defaults)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from openapi_spec_validator import validate

from services.ingest.app import IngestApp
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.settings import CommonSettings, IngestSettings
from tests.eventually import eventually
from tests.services.ingest.conftest import Client, SeededWorkspace, Workspaces, seed_event

SCHEMAS = "#/components/schemas/"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _schema(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][node["$ref"].removeprefix(SCHEMAS)]
    return schema


def _request_schema(doc: dict[str, Any], path: str) -> dict[str, Any]:
    body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return _schema(doc, body)


async def test_openapi_document_describes_both_endpoints(
    client: Client, ingest_settings: IngestSettings
) -> None:
    reply = await client.request("GET", "/openapi.json")
    assert reply.status == 200
    doc = reply.json
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Signet ingest"
    assert {"/v1/events", "/v1/events/bulk", "/healthz", "/readyz"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["publishableKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["publishableKey"]["description"],
    }
    for ref in _refs(doc):
        assert ref.startswith(SCHEMAS)
        assert ref.removeprefix(SCHEMAS) in doc["components"]["schemas"], ref
    for path in ("/v1/events", "/v1/events/bulk"):
        post = doc["paths"][path]["post"]
        assert post["security"] == [{"publishableKey": []}]
        assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
        responses = post["responses"]
        assert {"202", "400", "401", "413", "415", "422", "503"} <= set(responses)
        for status, response in responses.items():
            if status != "202":
                assert "application/problem+json" in response["content"]
        assert "Retry-After" in responses["503"]["headers"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    accepted = doc["paths"]["/v1/events"]["post"]["responses"]["202"]
    assert "Idempotent-Replayed" in accepted["headers"]
    assert _schema(doc, accepted["content"]["application/json"]["schema"])["required"] == ["id"]
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status"} <= set(problem["required"])
    event = _request_schema(doc, "/v1/events")
    assert set(event["required"]) == {"event", "resource", "resource_id", "payload"}
    assert event["additionalProperties"] is False
    assert "default" not in event["properties"]["id"]  # optional, but never null
    bulk = _request_schema(doc, "/v1/events/bulk")
    assert bulk["properties"]["events"]["maxItems"] == ingest_settings.max_bulk_events
    assert bulk["properties"]["events"]["items"] == {"$ref": SCHEMAS + "EventBody"}
    result = doc["components"]["schemas"]["BulkResult"]
    assert set(result["required"]) == {"results", "accepted", "rejected", "failed"}
    entries = result["properties"]["results"]["items"]
    assert entries["discriminator"]["propertyName"] == "status"
    assert set(entries["discriminator"]["mapping"]) == {"accepted", "rejected", "failed"}


# -- the document states the running limits ------------------------------------------------

SMALL = {
    "max_payload_bytes": 2048,
    "max_bulk_events": 3,
    "max_bulk_body_bytes": 4096,
    "idempotency_ttl_seconds": 90,
}


@pytest.fixture(scope="module")
async def small_app(ingest_settings: IngestSettings) -> AsyncIterator[IngestApp]:
    async with IngestApp(ingest_settings.model_copy(update=SMALL)) as app:
        await eventually(app.ready, "ingest ready", 30)
        yield app


@pytest.fixture(scope="module")
async def small(small_app: IngestApp) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, small_app.url)


@pytest.fixture(scope="module")
async def small_workspace(
    small_app: IngestApp, kafka_settings: CommonSettings, topics: Topics
) -> SeededWorkspace:
    async with AsyncProducer(kafka_settings) as producer:
        return await Workspaces(producer, topics, small_app).create()


async def test_the_document_states_the_limits_of_the_settings(small: Client) -> None:
    doc = (await small.request("GET", "/openapi.json")).json
    validate(doc)
    events = _request_schema(doc, "/v1/events/bulk")["properties"]["events"]
    assert events["maxItems"] == SMALL["max_bulk_events"]
    payload = _request_schema(doc, "/v1/events")["properties"]["payload"]
    assert f"At most {SMALL['max_payload_bytes']} bytes" in payload["description"]
    single = doc["paths"]["/v1/events"]["post"]
    assert str(SMALL["max_payload_bytes"]) in single["description"]
    bulk = doc["paths"]["/v1/events/bulk"]["post"]
    assert str(SMALL["max_bulk_body_bytes"]) in bulk["description"]
    assert bulk["summary"] == f"Emit 1 to {SMALL['max_bulk_events']} events"
    header = bulk["parameters"][0]
    assert f"Within {SMALL['idempotency_ttl_seconds']} s" in header["description"]


async def test_the_process_enforces_the_limits_its_document_states(
    small: Client, small_workspace: SeededWorkspace
) -> None:
    key = small_workspace.key
    limit = SMALL["max_bulk_events"]
    assert (await small.bulk({"events": [seed_event()] * limit}, key)).status == 202
    too_many = await small.bulk({"events": [seed_event()] * (limit + 1)}, key)
    assert too_many.status == 413
    assert too_many.json["errors"][0]["field"] == "events"
    assert too_many.json["errors"][0]["code"] == "too_large"

    payload_limit = SMALL["max_payload_bytes"]
    room = payload_limit - len(orjson.dumps({"blob": ""}))
    fits = seed_event(payload={"blob": "x" * (room - 300)})  # the body has other fields too
    assert (await small.emit(fits, key)).status == 202
    over = await small.bulk({"events": [seed_event(payload={"blob": "x" * (room + 1)})]}, key)
    assert over.status == 400  # nothing accepted: the batch names each event's trouble
    [error] = over.json["errors"]
    assert (error["field"], error["code"]) == ("events[0].payload", "too_large")
    assert str(payload_limit) in error["message"]
    body_over = await small.emit(seed_event(payload={"blob": "x" * payload_limit}), key)
    assert body_over.status == 413
