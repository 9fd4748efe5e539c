"""Spans for the hot path: one per routed event, one per attempt, when they are exported.

The OpenTelemetry SDK's span is made for every caller: it validates each attribute,
guards its state with locks, copies itself into a ``ReadableSpan`` when it ends. That
costs about 30 µs a span on the service's own thread, twice per delivery (the route and
the attempt) — most of what exporting traces cost path (b) (docs/benchmarks.md#tracing).
:class:`HotTracer` makes :class:`RecordedSpan` instead: our own code sets the
attributes, of types it knows, so a span is a plain record, which the SDK's batch
processor queues and :mod:`signet.otlp` encodes as it would an SDK span (it reads the
same fields). The rest is the SDK's: the sampler (``OTEL_TRACES_SAMPLER``), the id
generator, the resource, the batch processor (``OTEL_BSP_*``) and the exporter.

Only :func:`signet.tracing.configure` uses it, when spans are exported; tests that install
an SDK provider (:func:`signet.tracing.install`) get SDK spans, and
tests/signet/test_spans.py checks that both encode alike.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AnyValue, Attributes

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)


class RecordedSpan(trace.Span):
    """A recording span: the API's ``Span`` for the code that makes it, and the fields of
    the SDK's ``ReadableSpan`` that processors and :mod:`signet.otlp` read."""

    __slots__ = (
        "_end",
        "_processor",
        "attributes",
        "context",
        "end_time",
        "events",
        "instrumentation_scope",
        "kind",
        "name",
        "parent",
        "resource",
        "start_time",
        "status",
    )

    # What an SDK span can drop and this one never does (no limits: our own attributes).
    dropped_attributes = 0
    dropped_events = 0
    dropped_links = 0
    links: Sequence[Link] = ()

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        tracer: HotTracer,
    ) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.attributes = attributes
        self.events: list[Event] = []
        self.status = _UNSET
        self.resource = tracer.resource
        self.instrumentation_scope = tracer.scope
        self._processor = tracer.processor
        self._end = False
        self.start_time = time_ns()
        self.end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return not self._end

    def set_attribute(self, key: str, value: AnyValue) -> None:
        if not self._end:
            self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        if not self._end:
            self.attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if not self._end:
            self.events.append(Event(name, attributes, timestamp or time_ns()))

    def update_name(self, name: str) -> None:
        if not self._end:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._end:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        # As the SDK: OK is final, and UNSET never replaces another status.
        if self.status.status_code is StatusCode.OK or status.status_code is StatusCode.UNSET:
            return
        self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        recorded: dict[str, AnyValue] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        recorded.update(attributes or {})
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end:
            return
        self._end = True
        self.end_time = end_time or time_ns()
        # The batch processor queues it (its on_start does nothing, so it is not called).
        self._processor.on_end(self)  # type: ignore[arg-type]  # read as a ReadableSpan


class HotTracer:
    """Makes :class:`RecordedSpan` (or a non-recording span, as the sampler decides) with
    ``provider``'s sampler, id generator and resource, ended into ``processor``."""

    def __init__(
        self, provider: TracerProvider, processor: SpanProcessor, scope: InstrumentationScope
    ) -> None:
        self.sampler = provider.sampler
        self.ids = provider.id_generator
        self.resource: Resource = provider.resource
        self.processor = processor
        self.scope = scope

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
    ) -> trace.Span:
        found = trace.get_current_span(context).get_span_context()
        parent = found if found.is_valid else None
        trace_id = parent.trace_id if parent is not None else self.ids.generate_trace_id()
        sampled = self.sampler.should_sample(context, trace_id, name, kind, attributes)
        span_context = SpanContext(
            trace_id,
            self.ids.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED if sampled.decision is Decision.RECORD_AND_SAMPLE else _UNSAMPLED,
            trace_state=sampled.trace_state,
        )
        if sampled.decision is Decision.DROP:
            return trace.NonRecordingSpan(span_context)
        recorded = {**(attributes or {}), **(sampled.attributes or {})}
        return RecordedSpan(name, span_context, parent, kind, recorded, self)
