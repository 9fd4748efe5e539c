"""The router continues each event's trace (pure: the event path with an in-memory
snapshot and output, the SDK's in-memory exporter): a span per routed event, child of
the context the event record carries, and every delivery record carries that span's
context on (``traceparent``), or a trace of its own when the event had none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from prometheus_client import CollectorRegistry

from services.router.events import EventRouter
from services.router.metrics import RouterMetrics
from services.router.output import OutputWriter
from services.router.source import SourceRecord, expected_partition
from signet import tracing
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import WorkspaceConfig
from tests.services.router.records import event, webhook
from tests.services.router.test_catalog_check import Output

PARTITIONS = 3
WORKSPACE = "ws_traced"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.reset()


def routing(output: Output) -> EventRouter:
    config = WorkspaceConfig(
        workspace_id=WORKSPACE,
        version=1,
        name="w",
        environment="production",
        created_at=0,
        updated_at=0,
        destinations=[webhook("dst_a"), webhook("dst_b")],
    )
    return EventRouter(
        {WORKSPACE.encode(): codec.encode(config)},
        cast(OutputWriter, output),
        Topics(),
        RouterMetrics(CollectorRegistry()),
        partitions=PARTITIONS,
    )


async def test_each_delivery_carries_the_route_span_of_its_event(
    exported: InMemorySpanExporter,
) -> None:
    output = Output()
    key = WORKSPACE.encode()
    traced, untraced = event(WORKSPACE), event(WORKSPACE)
    partition = expected_partition(key, PARTITIONS)
    headers = [("traceparent", f"00-{TRACE_ID}-{SPAN_ID}-01".encode())]
    await routing(output).route_batch(
        [
            SourceRecord("events", partition, 7, key, codec.encode(traced), headers),
            SourceRecord("events", partition, 8, key, codec.encode(untraced)),
        ]
    )

    first, second = exported.get_finished_spans()
    assert first.kind is SpanKind.CONSUMER and first.name == "route"
    assert first.parent is not None and format_span_id(first.parent.span_id) == SPAN_ID
    assert format_trace_id(first.context.trace_id) == TRACE_ID
    assert first.attributes is not None
    assert first.attributes["signet.event.id"] == traced.id
    assert first.attributes["messaging.kafka.offset"] == 7
    assert first.attributes["signet.deliveries"] == 2
    assert second.parent is None and format_trace_id(second.context.trace_id) != TRACE_ID

    carried = [dict(record.headers or [])["traceparent"] for record in output.sent]
    route_of = {
        span.attributes["signet.event.id"]: (
            f"00-{format_trace_id(span.context.trace_id)}-"
            f"{format_span_id(span.context.span_id)}-{span.context.trace_flags:02x}".encode()
        )
        for span in (first, second)
        if span.attributes is not None
    }
    assert carried == [route_of[traced.id]] * 2 + [route_of[untraced.id]] * 2
