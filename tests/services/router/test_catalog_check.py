"""The router's catalog check of events produced straight to Kafka (pure: the event path
with an in-memory snapshot, catalog and output; the real thing is
tests/e2e/test_event_type_catalog_enforced.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from services.router.events import EventRouter
from services.router.metrics import RouterMetrics
from services.router.output import OutputWriter, OutRecord
from services.router.source import SourceRecord, expected_partition
from signet.catalog.events import CatalogRefusal
from signet.catalog.view import CatalogEntry
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Event, EventTypeDefinition, WorkspaceConfig
from tests.services.router.records import event, webhook

PARTITIONS = 3
WORKSPACE = "ws_catalog"
SCHEMA = '{"type": "object", "required": ["order_id"]}'


class Output:
    def __init__(self) -> None:
        self.sent: list[OutRecord] = []
        self.dead: list[BaseException] = []

    async def send_all(self, records: list[OutRecord]) -> None:
        self.sent.extend(records)

    async def dead_letter(self, record: SourceRecord, error: BaseException, source: str) -> None:
        self.dead.append(error)


class Catalog:
    def __init__(self) -> None:
        definition = EventTypeDefinition(
            name="order.completed", description="", version=1, updated_at=0, schema_json=SCHEMA
        )
        self.entries = {"order.completed": CatalogEntry(definition)}

    def get(self, name: str) -> CatalogEntry | None:
        return self.entries.get(name)


def record(item: Event, offset: int) -> SourceRecord:
    key = item.workspace_id.encode()
    return SourceRecord(
        "events", expected_partition(key, PARTITIONS), offset, key, codec.encode(item)
    )


def router(output: Output, require_cataloged: bool) -> tuple[EventRouter, RouterMetrics]:
    config = WorkspaceConfig(
        workspace_id=WORKSPACE,
        version=1,
        name="w",
        environment="production",
        created_at=0,
        updated_at=0,
        destinations=[webhook()],
    )
    snapshots: dict[bytes, bytes] = {WORKSPACE.encode(): codec.encode(config)}
    metrics = RouterMetrics(CollectorRegistry())
    routing = EventRouter(
        snapshots,
        cast(OutputWriter, output),
        Topics(),
        metrics,
        partitions=PARTITIONS,
        catalog=Catalog(),
        require_cataloged=require_cataloged,
    )
    return routing, metrics


def refused(metrics: RouterMetrics, code: str) -> float:
    value: Any = metrics.events_refused.labels(code)._value.get()
    return float(value)


@pytest.mark.parametrize("require_cataloged", [False, True])
async def test_kafka_events_are_held_to_the_catalog(require_cataloged: bool) -> None:
    output = Output()
    routing, metrics = router(output, require_cataloged)
    failing = replace(event(WORKSPACE, payload=b'{"total": 1}'), source="kafka")
    passing = replace(event(WORKSPACE, payload=b'{"order_id": "o"}'), source="kafka")
    uncataloged = replace(event(WORKSPACE, "order.shipped", payload=b"{}"), source="kafka")
    # An HTTP event was checked by the ingest: the router does not check it again.
    from_http = event(WORKSPACE, payload=b'{"total": 1}')
    await routing.route_batch(
        [record(e, n) for n, e in enumerate([failing, passing, uncataloged, from_http])]
    )

    routed = {codec.decode(r.value, Delivery).event_id for r in output.sent}
    expected_routed = {passing.id, from_http.id} | (
        set() if require_cataloged else {uncataloged.id}
    )
    assert routed == expected_routed
    reasons = [str(e) for e in output.dead]
    assert all(isinstance(e, CatalogRefusal) for e in output.dead)
    assert any(failing.id in r and "payload.order_id (schema): is required" in r for r in reasons)
    assert refused(metrics, "schema") == 1
    if require_cataloged:
        assert any(uncataloged.id in r and "unknown_event_type" in r for r in reasons)
        assert refused(metrics, "unknown_event_type") == 1
    else:
        assert len(output.dead) == 1
