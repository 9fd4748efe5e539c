"""signet/tracing.py with the SDK's in-memory exporter: spans and their attributes, the
context through Kafka record headers, the context-only default, and exporting only when
the ``OTEL_*`` settings ask for it (to a real OTLP/HTTP sink on loopback)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from bench.otlp_sink import OtlpSink
from signet import tracing
from signet.errors import ConfigurationError
from tests.eventually import eventually

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
SAMPLED = f"00-{TRACE_ID}-{SPAN_ID}-01"
UNSAMPLED = f"00-{TRACE_ID}-{SPAN_ID}-00"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.reset()


def ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    parent = span.parent
    return (
        format_trace_id(span.context.trace_id),
        format_span_id(span.context.span_id),
        format_span_id(parent.span_id) if parent is not None else None,
    )


def test_the_context_travels_in_record_headers(exported: InMemorySpanExporter) -> None:
    with (
        tracing.continued([("other", b"x"), ("traceparent", SAMPLED.encode())]),
        tracing.tracer().start_as_current_span("route"),
    ):
        headers = tracing.record_headers()
    [route] = exported.get_finished_spans()
    trace_id, span_id, parent = ids(route)
    assert (trace_id, parent) == (TRACE_ID, SPAN_ID)
    assert headers == [("traceparent", f"00-{TRACE_ID}-{span_id}-01".encode())]
    # The next hop continues the route span; outside any context there is nothing.
    with tracing.continued(headers):
        assert tracing.http_headers() == {"traceparent": f"00-{TRACE_ID}-{span_id}-01"}
    assert tracing.record_headers() == []


def test_a_linked_span_links_each_valid_context_and_parents_what_it_sends(
    exported: InMemorySpanExporter,
) -> None:
    other_trace, other_span = "ab" * 16, "cd" * 8
    linked = [
        {"traceparent": f"00-{other_trace}-{other_span}-01", "tracestate": "v=1"},
        {"traceparent": "00-not-a-context"},  # no link, no error
        {},
    ]
    with (
        tracing.continued([("traceparent", SAMPLED.encode())]),
        tracing.linked_span("signet.replay", linked, {"signet.deliveries": 2}),
    ):
        assert tracing.recording()
        headers = tracing.record_headers()
    [replay] = exported.get_finished_spans()
    trace_id, span_id, parent = ids(replay)
    assert (trace_id, parent) == (TRACE_ID, SPAN_ID) and replay.name == "signet.replay"
    assert [
        (format_trace_id(link.context.trace_id), format_span_id(link.context.span_id))
        for link in replay.links
    ] == [(other_trace, other_span)]
    assert replay.attributes == {"signet.deliveries": 2}
    # What is produced under it continues it, not the request's span.
    assert headers == [("traceparent", f"00-{TRACE_ID}-{span_id}-01".encode())]
    assert not tracing.recording()


def test_tracestate_travels_and_a_mapping_of_headers_is_read_too() -> None:
    carried = {"traceparent": SAMPLED, "tracestate": "vendor=kept"}
    with tracing.continued(carried):
        assert dict(tracing.record_headers()) == {
            "traceparent": SAMPLED.encode(),
            "tracestate": b"vendor=kept",
        }


def test_a_malformed_traceparent_starts_a_trace_of_its_own(
    exported: InMemorySpanExporter,
) -> None:
    with (
        tracing.continued([("traceparent", b"00-nonsense")]),
        tracing.tracer().start_as_current_span("route"),
    ):
        pass
    [route] = exported.get_finished_spans()
    assert route.parent is None and ids(route)[0] != TRACE_ID


def test_without_an_exporter_spans_still_have_real_ids_and_keep_the_callers_flag() -> None:
    tracing.reset()
    with tracing.tracer().start_as_current_span("root") as root:
        assert root.get_span_context().is_valid and not root.is_recording()
        started = tracing.http_headers()["traceparent"]
    assert int(started[-2:], 16) & 1 == 0 and TRACE_ID not in started  # not sampled
    for sent, flag in ((SAMPLED, "01"), (UNSAMPLED, "00")):
        with (
            tracing.continued([("traceparent", sent.encode())]),
            tracing.http_client_span("POST", "http://receiver.test/hook") as (_, headers),
        ):
            traceparent = headers["traceparent"]
            assert tracing.http_headers()["traceparent"] != traceparent  # not made current
        assert traceparent.startswith(f"00-{TRACE_ID}-")
        assert int(traceparent[-2:], 16) & 1 == int(flag)
        assert SPAN_ID not in traceparent  # the attempt's own span, not the caller's


def test_an_attempt_span_follows_the_http_client_conventions(
    exported: InMemorySpanExporter,
) -> None:
    url = "https://user:pw@hooks.example.com/in?x=1"
    for status, error in ((503, None), (None, "timeout"), (204, None)):
        with tracing.http_client_span("POST", url, {"signet.attempt": 2}) as (span, _):
            tracing.end_http_client_span(span, status, error)
    failed, timed_out, delivered = exported.get_finished_spans()
    for finished in (failed, timed_out, delivered):
        assert finished.kind is SpanKind.CLIENT and finished.name == "POST"
        attributes = finished.attributes
        assert attributes is not None
        assert attributes["http.request.method"] == "POST"
        assert attributes["url.full"] == "https://REDACTED:REDACTED@hooks.example.com/in?x=1"
        assert attributes["server.address"] == "hooks.example.com"
        assert attributes["server.port"] == 443
        assert attributes["signet.attempt"] == 2
    assert failed.attributes is not None and timed_out.attributes is not None
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == "503"
    assert timed_out.attributes["error.type"] == "timeout"
    assert "http.response.status_code" not in timed_out.attributes
    assert delivered.attributes is not None and "error.type" not in delivered.attributes
    statuses = [s.status.status_code.name for s in exported.get_finished_spans()]
    assert statuses == ["ERROR", "ERROR", "UNSET"]


@pytest.fixture
async def traced_app() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async def accept(request: web.Request) -> web.Response:
        carried = tracing.record_headers()  # what the ingest writes into the record
        texts = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in carried]
        return web.json_response({"headers": texts}, status=202)

    async def refuse(request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    app = web.Application(middlewares=[tracing.server_middleware])
    app.router.add_post("/v1/events", accept)
    app.router.add_post("/v1/broken", refuse)
    app.router.add_get("/healthz", accept)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_the_ingest_span_continues_the_request_and_fills_the_record_headers(
    exported: InMemorySpanExporter, traced_app: TestClient[web.Request, web.Application]
) -> None:
    response = await traced_app.post(
        "/v1/events", headers={"traceparent": SAMPLED, "user-agent": "shop/1"}
    )
    assert response.status == 202
    carried = dict((await response.json())["headers"])
    [server] = exported.get_finished_spans()
    trace_id, span_id, parent = ids(server)
    assert (trace_id, parent) == (TRACE_ID, SPAN_ID)
    assert carried["traceparent"] == f"00-{TRACE_ID}-{span_id}-01"
    assert server.kind is SpanKind.SERVER and server.name == "POST /v1/events"
    assert server.attributes == {
        "http.request.method": "POST",
        "http.route": "/v1/events",
        "url.path": "/v1/events",
        "url.scheme": "http",
        "server.address": "127.0.0.1",
        "user_agent.original": "shop/1",
        "client.address": "127.0.0.1",
        "http.response.status_code": 202,
    }

    # No traceparent: a trace of its own. A 5xx is an error; health checks are not traced.
    assert (await traced_app.post("/v1/events")).status == 202
    assert (await traced_app.post("/v1/broken")).status == 503
    assert (await traced_app.get("/healthz")).status == 202
    _, fresh, broken = exported.get_finished_spans()
    assert fresh.parent is None and ids(fresh)[0] != TRACE_ID
    assert broken.attributes is not None and broken.attributes["error.type"] == "503"
    assert broken.status.status_code.name == "ERROR"


def test_exporting_only_when_an_otlp_endpoint_is_set() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not tracing.exporting({})
    assert tracing.exporting(endpoint)
    assert tracing.exporting({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not tracing.exporting({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing.exporting({**endpoint, "OTEL_TRACES_EXPORTER": "none"})
    before = threading.active_count()
    assert tracing.configure("router", {"OTEL_SERVICE_NAME": "x"}) is False
    assert threading.active_count() == before  # nothing started
    with pytest.raises(ConfigurationError, match="http/protobuf"):
        tracing.configure("router", {**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


async def test_configured_spans_reach_an_otlp_http_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    async with OtlpSink() as sink:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        assert tracing.configure("dispatcher", os.environ) is True
        try:
            with (
                tracing.continued([("traceparent", SAMPLED.encode())]),
                tracing.http_client_span("POST", "http://receiver.test/hook") as (span, _),
            ):
                tracing.end_http_client_span(span, 200, None)
        finally:
            # Exports what is buffered (from a thread: the sink answers on this loop).
            await asyncio.to_thread(tracing.shutdown)
        [sunk] = await eventually(lambda: sink.spans or None, "the exported span", 10)
    assert (sunk.service, sunk.trace_id, sunk.parent_span_id) == (
        "signet-dispatcher",
        TRACE_ID,
        SPAN_ID,
    )
    assert sunk.attributes["http.response.status_code"] == 200
