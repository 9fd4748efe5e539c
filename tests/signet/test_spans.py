"""signet/spans.py: a RecordedSpan encodes as the SDK's span of the same work would, the
sampler decides as it does for the SDK, and the span keeps the SDK's rules (status,
exceptions, ending once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from signet.otlp import encode_request
from signet.spans import HotTracer, RecordedSpan

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


class CountingIds(IdGenerator):
    """The same ids, in the same order, for the SDK's tracer and ours."""

    def __init__(self) -> None:
        self.n = 0

    def generate_span_id(self) -> int:
        self.n += 1
        return self.n

    def generate_trace_id(self) -> int:
        self.n += 1
        return self.n << 64


class Made:
    def __init__(self, sampler: Sampler) -> None:
        self.exporter = InMemorySpanExporter()
        self.processor = SimpleSpanProcessor(self.exporter)
        self.provider = TracerProvider(
            sampler=sampler,
            resource=Resource.create({"service.name": "signet-test"}),
            id_generator=CountingIds(),
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(self.processor)
        self.scope = InstrumentationScope("signet", "9.9")
        self.sdk = self.provider.get_tracer("signet", "9.9")
        self.hot = HotTracer(self.provider, self.processor, self.scope)

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


@pytest.fixture
def made() -> Iterator[Made]:
    made = Made(ParentBased(ALWAYS_ON))
    yield made
    made.provider.shutdown()


def parent(sampled: bool) -> Any:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    remote = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(remote))


def the_work(tracer: Any) -> None:
    """What the router and the dispatcher do with a span."""
    attributes = {"messaging.system": "kafka", "messaging.kafka.offset": 7, "ok": True}
    span = tracer.start_span(
        "route", context=parent(True), kind=SpanKind.CONSUMER, attributes=attributes
    )
    span.set_attributes({"signet.event.id": "evt_1", "signet.event.type": "order.completed"})
    span.set_attribute("signet.deliveries", 2)
    span.end()
    child = tracer.start_span(
        "POST",
        context=trace.set_span_in_context(span),
        kind=SpanKind.CLIENT,
        attributes={"url.full": "http://x"},
    )
    child.set_status(Status(StatusCode.ERROR))
    child.record_exception(ValueError("refused"))
    child.end()
    root = tracer.start_span("root", attributes={"ratio": 0.5})
    root.end()


def without_times(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                span.start_time_unix_nano = span.end_time_unix_nano = 0
                for event in span.events:
                    event.time_unix_nano = 0
                    for attribute in event.attributes:
                        if attribute.key == "exception.stacktrace":
                            attribute.value.string_value = "…"
    return request


def test_encodes_as_the_sdks_span_of_the_same_work() -> None:
    sdk, ours = Made(ParentBased(ALWAYS_ON)), Made(ParentBased(ALWAYS_ON))
    the_work(sdk.sdk)
    the_work(ours.hot)
    made_by_sdk, made_by_us = sdk.spans(), ours.spans()
    assert all(isinstance(span, RecordedSpan) for span in made_by_us)
    assert [span.name for span in made_by_us] == ["route", "POST", "root"]
    expected = without_times(ExportTraceServiceRequest.FromString(encode_request(made_by_sdk)))
    got = without_times(ExportTraceServiceRequest.FromString(encode_request(made_by_us)))
    assert got == expected
    # Times are real: nanoseconds, and an end after the start.
    for span in made_by_us:
        assert span.start_time is not None and span.end_time is not None
        assert 0 < span.start_time <= span.end_time


@pytest.mark.parametrize(
    ("sampler", "sampled_parent", "recorded", "flags"),
    [
        (ParentBased(ALWAYS_ON), True, True, 1),
        (ParentBased(ALWAYS_ON), False, False, 0),  # the caller's "not sampled" holds
        (ParentBased(ALWAYS_OFF), True, True, 1),
        (ALWAYS_OFF, True, False, 0),
    ],
)
def test_the_sampler_decides_as_for_the_sdk(
    sampler: Sampler, sampled_parent: bool, recorded: bool, flags: int
) -> None:
    ours = Made(sampler)
    span = ours.hot.start_span("route", context=parent(sampled_parent))
    context = span.get_span_context()
    assert span.is_recording() is recorded
    assert (context.trace_id, context.trace_flags & 1) == (TRACE_ID, flags)
    assert context.span_id != SPAN_ID and context.is_valid and not context.is_remote
    span.end()
    assert len(ours.spans()) == int(recorded)


def test_a_root_span_starts_a_trace(made: Made) -> None:
    span = made.hot.start_span("root")
    span.end()
    [root] = made.spans()
    assert root.parent is None and root.context is not None
    assert root.context.trace_id != TRACE_ID and root.context.trace_flags.sampled


def test_status_and_ending_follow_the_sdks_rules(made: Made) -> None:
    span = made.hot.start_span("x")
    span.set_status(StatusCode.ERROR, "first")
    span.set_status(Status(StatusCode.UNSET))  # never replaces another status
    assert isinstance(span, RecordedSpan)
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "first")
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR)  # OK is final
    assert span.status.status_code is StatusCode.OK
    span.update_name("renamed")
    span.end()
    span.end()  # ends once
    span.set_attribute("late", 1)  # ignored once ended
    span.add_event("late")
    assert not span.is_recording()
    [ended] = made.spans()
    assert ended.name == "renamed" and ended.attributes == {} and not ended.events


def test_an_exception_is_recorded_as_the_sdk_records_it(made: Made) -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        span = made.hot.start_span("x")
        span.record_exception(exc, {"extra": 1})
        span.end()
    [event] = made.spans()[0].events
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'missing'"
    assert "raise KeyError" in str(event.attributes["exception.stacktrace"])
    assert event.attributes["exception.escaped"] == "False"
    assert event.attributes["extra"] == 1
