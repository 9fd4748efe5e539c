"""The direct producer's trace headers: the ``traceparent`` given to ``emit``, else the
caller's current OpenTelemetry context, else none (the SDK without opentelemetry).
Through the whole stack: tests/e2e/test_tracing.py."""

from __future__ import annotations

import pytest
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from signet_sdk import producer

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_traceparent_given_wins() -> None:
    assert producer._trace_headers(f" {TRACEPARENT}\n") == [("traceparent", TRACEPARENT.encode())]


def test_the_callers_opentelemetry_context_is_written() -> None:
    assert producer._trace_headers(None) is None  # no current span: no headers
    span = NonRecordingSpan(
        SpanContext(
            TRACE_ID,
            SPAN_ID,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=TraceState([("vendor", "kept")]),
        )
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        headers = producer._trace_headers(None)
    finally:
        context.detach(token)
    assert headers == [("traceparent", TRACEPARENT.encode()), ("tracestate", b"vendor=kept")]


def test_without_opentelemetry_there_are_no_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer, "_propagate", None)
    assert producer._trace_headers(None) is None
    assert producer._trace_headers(TRACEPARENT) == [("traceparent", TRACEPARENT.encode())]
