"""signet/otlp.py: its encoder writes what OpenTelemetry's own writes, for every field and
attribute type (parsed back with the official ``opentelemetry-proto`` classes), and its
exporter sends it to a real OTLP/HTTP sink on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from aiohttp import web
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from opentelemetry.util.types import AnyValue

from bench.otlp_sink import OtlpSink
from signet import otlp
from signet.dev.loopback import LoopbackServer
from signet.otlp import OtlpSpanExporter, encode_request, varint

REMOTE = SpanContext(
    trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
    span_id=0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "kept"), ("other", "x")]),
)


def finished_spans(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    """Spans covering every field the encoder writes, from two scopes."""
    tracer = provider.get_tracer("signet", "1.2.3")
    other = provider.get_tracer("other-scope")  # no version
    every_type: dict[str, AnyValue] = {
        "text": "héllo",
        "empty": "",
        "yes": True,
        "no": False,
        "zero": 0,
        "small": 5,
        "big": 2**40,
        "negative": -3,
        "min": -(2**63),
        "ratio": 1.5,
        "texts": ["a", "b"],
        "ints": [1, -2],
        "flags": [True, False],
        "floats": [0.25],
    }
    with tracer.start_as_current_span(
        "root", kind=SpanKind.SERVER, attributes=every_type, links=[Link(REMOTE, {"why": "x"})]
    ) as root:
        root.add_event("an event", {"n": 1})
        root.add_event("bare")
        with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT) as client:
            client.set_status(Status(StatusCode.ERROR, "refused"))
        with other.start_as_current_span("ok", kind=SpanKind.PRODUCER) as ok:
            ok.set_status(Status(StatusCode.OK))
    remote = set_span_in_context(NonRecordingSpan(REMOTE))
    with tracer.start_as_current_span("route", context=remote, kind=SpanKind.CONSUMER):
        pass
    with tracer.start_as_current_span("internal"):
        pass
    assert len(exporter.get_finished_spans()) == 5


@pytest.fixture
def spans() -> Iterator[Sequence[ReadableSpan]]:
    # A tight attribute limit makes dropped counts too.
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "signet-test"}),
        span_limits=SpanLimits(max_span_attributes=10, max_event_attributes=10),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    finished_spans(provider, exporter)
    yield exporter.get_finished_spans()
    provider.shutdown()


def test_encodes_what_the_library_encodes(spans: Sequence[ReadableSpan]) -> None:
    assert spans[-1].dropped_attributes == 0
    assert any(span.dropped_attributes for span in spans)  # the limit was met
    ours = ExportTraceServiceRequest.FromString(encode_request(spans))
    expected = encode_spans(spans)
    # One field more than the library writes: a link's trace_state (trace.proto has it;
    # the library leaves it out).
    links = [
        link
        for resource in expected.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        for link in span.links
    ]
    assert len(links) == 1
    links[0].trace_state = "vendor=kept,other=x"
    assert ours == expected


def test_spans_of_two_providers_keep_their_resources(spans: Sequence[ReadableSpan]) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "another"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("signet").start_as_current_span("second"):
        pass
    mixed = [*[span for span in spans if not span.links], *exporter.get_finished_spans()]
    ours = ExportTraceServiceRequest.FromString(encode_request(mixed))
    assert ours == encode_spans(mixed)
    assert len(ours.resource_spans) == 2


def test_nothing_encodes_to_an_empty_request() -> None:
    assert encode_request([]) == b""


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (-1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varints(n: int, encoded: bytes) -> None:
    assert varint(n) == encoded


async def test_the_exporter_sends_them_to_an_otlp_sink(spans: Sequence[ReadableSpan]) -> None:
    async with OtlpSink() as sink:
        exporter = OtlpSpanExporter(endpoint=f"{sink.url}/v1/traces", timeout=5)
        result = await asyncio.to_thread(exporter.export, spans)
        exporter.shutdown()
    assert result is SpanExportResult.SUCCESS
    assert sorted(span.name for span in sink.spans) == sorted(span.name for span in spans)
    route = next(span for span in sink.spans if span.name == "route")
    assert route.parent_span_id == f"{REMOTE.span_id:016x}"
    assert route.service == "signet-test"


async def test_a_refused_export_is_a_failure(spans: Sequence[ReadableSpan]) -> None:
    async def refuse(_request: web.Request) -> web.Response:
        return web.Response(status=400, text="no")

    app = web.Application()
    app.router.add_post("/v1/traces", refuse)
    server = LoopbackServer()
    await server.serve(app)
    try:
        exporter = OtlpSpanExporter(endpoint=f"{server.base_url}/v1/traces", timeout=5)
        assert await asyncio.to_thread(exporter.export, spans) is SpanExportResult.FAILURE
        exporter.shutdown()
        # Once shut down, it sends nothing.
        assert await asyncio.to_thread(exporter.export, spans) is SpanExportResult.FAILURE
    finally:
        await server.stop()


def test_remembered_attributes_keep_their_types_and_ids_are_not_remembered() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("signet")
    # The same key with equal values of three types, then more distinct values than
    # are remembered, then the first ones again.
    values: list[AnyValue] = [True, 1, 1.0, *(f"dlv_{n}" for n in range(200)), True, 1]
    for value in values:
        with tracer.start_as_current_span("s", attributes={"cache.test": value}):
            pass
    spans = exporter.get_finished_spans()
    assert ExportTraceServiceRequest.FromString(encode_request(spans)) == encode_spans(spans)
    assert otlp._REMEMBERED["cache.test"] is None  # too many distinct values: forgotten
