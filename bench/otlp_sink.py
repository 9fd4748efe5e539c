"""A local OTLP/HTTP trace sink: accepts ``POST /v1/traces`` on loopback and keeps what
it was sent, as a collector would take it (for ``bench.tracing`` and the tracing tests).

Point a service at it with ``OTEL_EXPORTER_OTLP_ENDPOINT=<sink.url>``.
``python -m bench.otlp_sink`` runs one as a process of its own (counting only; it prints
``listening <port>``, and ``GET /count`` answers how many spans it took).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from signet.dev.loopback import LoopbackServer

PROTOBUF = "application/x-protobuf"


@dataclass(slots=True, frozen=True)
class SunkSpan:
    service: str
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind: 2 server, 3 client, 5 consumer
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (trace id, span id) of each linked span


class OtlpSink:
    """``keep``: decode and keep every span (tests); otherwise only count them (benchmarks)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.spans: list[SunkSpan] = []
        self.requests = 0
        self.span_count = 0
        self._server = LoopbackServer()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_get("/count", self._count)
        await self._server.serve(app)

    @property
    def url(self) -> str:
        return self._server.base_url

    async def stop(self) -> None:
        await self._server.stop()

    async def __aenter__(self) -> OtlpSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def of_trace(self, trace_id: str) -> list[SunkSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]

    async def _count(self, _request: web.Request) -> web.Response:
        return web.json_response({"requests": self.requests, "spans": self.span_count})

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        self.requests += 1
        for resource_spans in export.resource_spans:
            service = ""
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    service = attribute.value.string_value
            for scope_spans in resource_spans.scope_spans:
                self.span_count += len(scope_spans.spans)
                if self.keep:
                    self.spans.extend(_sunk(service, span) for span in scope_spans.spans)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type=PROTOBUF
        )


def _sunk(service: str, span: Any) -> SunkSpan:
    attributes: dict[str, Any] = {}
    for attribute in span.attributes:
        value = attribute.value
        attributes[attribute.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return SunkSpan(
        service=service,
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes=attributes,
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
    )


async def _serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with OtlpSink(keep=False) as sink:
        print("listening", sink.url.rpartition(":")[2], flush=True)
        await stop.wait()
        print(json.dumps({"requests": sink.requests, "spans": sink.span_count}), flush=True)


if __name__ == "__main__":
    asyncio.run(_serve())
