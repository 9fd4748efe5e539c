"""OpenTelemetry tracing: one trace from an event's arrival to each attempt to deliver it.

The W3C trace context (``traceparent``, ``tracestate``) travels with the work:

- the ingest continues the request's ``traceparent`` (or starts a trace) in a server span
  (:func:`server_middleware`) and writes the context into the event record's Kafka
  headers; the direct producer (``signet_sdk.producer``) does the same from its caller's
  context;
- the router continues it in a span per routed event and writes it into each delivery's
  headers;
- the dispatcher continues it for each record it takes (:func:`continued`): every retry
  tier hop is produced with the same headers, and each attempt is a client span whose
  context the request carries as ``traceparent``, so the receiver can join the trace.

Exporting is the operator's choice, made with the standard ``OTEL_*`` variables:
:func:`configure` exports over OTLP/HTTP (a batch processor, the SDK's own reading of
``OTEL_EXPORTER_OTLP_*``, ``OTEL_TRACES_SAMPLER``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``) only when an OTLP endpoint is set; then the route and
attempt spans are :mod:`signet.spans` records and the encoding is :mod:`signet.otlp`'s
(each costs a fraction of the SDK's: docs/benchmarks.md#tracing). Otherwise nothing is
exported and no thread starts, yet spans still get real ids: a delivery always carries a
``traceparent``. Without an exporter, only a trace the caller marked sampled is recorded
(in memory, for nothing), so the ``sampled`` flag the receiver sees is the caller's.

The spans are made through this module's provider, not OpenTelemetry's global one: tests
:func:`install` a provider with an in-memory exporter, and a service embedded in a test
gets the context-only default.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from signet import __version__
from signet.errors import ConfigurationError
from signet.web import Handler, answered

if TYPE_CHECKING:
    from signet.spans import HotTracer

logger = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = (TRACEPARENT, TRACESTATE)

# What Kafka clients give as record headers (confluent-kafka, aiokafka: pairs; either
# may also speak of a mapping).
RecordHeaders = Iterable[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
_PROPAGATOR = TraceContextTextMapPropagator()
_SCOPE = "signet"


def context_only_provider() -> TracerProvider:
    """Spans with real ids and no exporter: only a trace sampled upstream is recorded."""
    return TracerProvider(sampler=ParentBased(ALWAYS_OFF), shutdown_on_exit=False)


class _Tracing:
    def __init__(self) -> None:
        self.provider = context_only_provider()
        self.tracer: trace.Tracer = self.provider.get_tracer(_SCOPE, __version__)
        # The route and attempt spans' tracer: the provider's, or ``signet.spans`` when
        # exporting.
        self.hot: trace.Tracer | HotTracer = self.tracer


_state = _Tracing()


def install(provider: TracerProvider, hot: HotTracer | None = None) -> None:
    """Make spans with ``provider`` from now on (tests: one with an in-memory exporter);
    the route and attempt spans with ``hot`` if given (:mod:`signet.spans`)."""
    _state.provider = provider
    _state.tracer = provider.get_tracer(_SCOPE, __version__)
    _state.hot = hot or _state.tracer


def reset() -> None:
    """Back to the context-only default (the previous provider is not shut down)."""
    install(context_only_provider())


def exporting(environ: Mapping[str, str]) -> bool:
    """Whether the ``OTEL_*`` settings ask for spans to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINTS)


def configure(service: str, environ: Mapping[str, str]) -> bool:
    """Export this process's spans over OTLP/HTTP if ``environ`` says where; True if so.

    ``environ`` decides whether (:func:`exporting`; the runner passes ``os.environ``);
    the rest of the ``OTEL_*`` variables (headers, timeout, sampler, resource, batch
    sizes) the SDK and its exporter read from the process environment themselves, as
    every OpenTelemetry SDK does. ``service`` names the process (``service.name``)
    unless ``OTEL_SERVICE_NAME`` does. Raises :class:`ConfigurationError` for a protocol
    other than ``http/protobuf``.
    """
    if not exporting(environ):
        reset()
        return False
    for name in _PROTOCOLS:
        protocol = environ.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise ConfigurationError(
                f"{name}={protocol!r}: Signet exports traces over OTLP/HTTP only "
                "(set it to http/protobuf, or leave it unset)"
            )
    # Imported only when exporting: it pulls in an HTTP client.
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from signet.otlp import OtlpSpanExporter
    from signet.spans import HotTracer

    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"signet-{service}"}
    # The SDK reads OTEL_TRACES_SAMPLER and OTEL_RESOURCE_ATTRIBUTES itself.
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    processor = BatchSpanProcessor(OtlpSpanExporter())
    provider.add_span_processor(processor)
    install(provider, HotTracer(provider, processor, InstrumentationScope(_SCOPE, __version__)))
    logger.info("%s: exporting traces over OTLP/HTTP", service)
    return True


def shutdown() -> None:
    """Export what is still buffered and stop the exporter's thread (at a service's end)."""
    _state.provider.shutdown()
    reset()


def tracer() -> trace.Tracer:
    return _state.tracer


# -- the context in Kafka record headers ---------------------------------------------------


def extract(headers: RecordHeaders | None) -> otel_context.Context:
    """The trace context a record's headers carry (an empty context if none)."""
    carrier: dict[str, str] = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name in TRACE_HEADERS and value is not None:
            carrier[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return _PROPAGATOR.extract(carrier)


def record_headers(
    context: otel_context.Context | None = None,
) -> list[tuple[str, str | bytes | None]]:
    """The trace context (``context``, or the current one) as Kafka record headers (empty
    outside any trace)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def http_headers(context: otel_context.Context | None = None) -> dict[str, str]:
    """The trace context (``context``, or the current one) as HTTP request headers."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


@contextlib.contextmanager
def continued(headers: RecordHeaders | None) -> Iterator[None]:
    """Work on a consumed record inside the trace its headers carry: spans started and
    records produced meanwhile (in this task, and tasks it creates) continue it."""
    token = otel_context.attach(extract(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


# -- spans ---------------------------------------------------------------------------------


def recording() -> bool:
    """Whether the current span is recorded (exported): worth a lookup to enrich it."""
    return trace.get_current_span().is_recording()


@contextlib.contextmanager
def linked_span(
    name: str, linked: Iterable[Mapping[str, str]], attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A span of the current trace, made current, with a link to each trace one of
    ``linked`` carries: headers as a request sent them (``traceparent``, ``tracestate``).
    Headers without a valid context give no link; the SDK keeps at most
    ``OTEL_SPAN_LINK_COUNT_LIMIT`` (128)."""
    links = []
    for headers in linked:
        context = trace.get_current_span(_PROPAGATOR.extract(headers)).get_span_context()
        if context.is_valid:
            links.append(trace.Link(context))
    with tracer().start_as_current_span(
        name, kind=SpanKind.PRODUCER, links=links, attributes=attributes
    ) as span:
        yield span


def safe_url(url: str) -> str:
    """``url`` without credentials, as the HTTP semantic conventions ask for ``url.full``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"REDACTED:REDACTED@{host}"))


@contextlib.contextmanager
def consumer_span(
    name: str, headers: RecordHeaders | None, attributes: Mapping[str, Any]
) -> Iterator[tuple[Span, list[tuple[str, str | bytes | None]]]]:
    """A span for the work on one consumed record, continuing the trace its ``headers``
    carry, and the record headers that carry it on to what that work produces.

    The span is not made the current one (no context to attach and detach: this runs
    once per event, and the records it produces take the headers given here). An
    exception ends it with an error status and is recorded on it."""
    parent = extract(headers)
    span = _state.hot.start_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    )
    try:
        yield span, record_headers(trace.set_span_in_context(span, parent))
    except Exception as exc:
        if span.is_recording():
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        span.end()


@functools.lru_cache(maxsize=1024)
def _request_attributes(method: str, url: str) -> Mapping[str, Any]:
    """A request's HTTP attributes (the same for every attempt to a destination)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        scheme = parts.scheme
    except ValueError:
        host, port, scheme = None, None, ""
    base: dict[str, Any] = {"http.request.method": method, "url.full": safe_url(url)}
    if host:
        base["server.address"] = host
        base["server.port"] = port or (443 if scheme == "https" else 80)
    return MappingProxyType(base)


@contextlib.contextmanager
def http_client_span(
    method: str, url: str, attributes: Mapping[str, Any] | None = None
) -> Iterator[tuple[Span, dict[str, str]]]:
    """A client span for one outgoing request (HTTP semantic conventions), a child of the
    current context, and the headers the request carries it in (``traceparent``: the
    receiver joins the trace as this span's child). Not made current, as
    :func:`consumer_span`; end what the request came to with :func:`end_http_client_span`."""
    span = _state.hot.start_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={**_request_attributes(method, url), **(attributes or {})},
    )
    try:
        yield span, http_headers(trace.set_span_in_context(span))
    except Exception as exc:
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        span.end()


def end_http_client_span(span: Span, status: int | None, error_type: str | None) -> None:
    """What the request came to: a status code, or the error that stopped it."""
    if not span.is_recording():
        return
    if status is not None:
        if status >= 400:
            span.set_attributes({"http.response.status_code": status, "error.type": str(status)})
            span.set_status(Status(StatusCode.ERROR))
        else:
            span.set_attribute("http.response.status_code", status)
    elif error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR))


@web.middleware
async def server_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A server span per API request (``/v1/…`` routes), continuing its ``traceparent``."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    if route is None or not route.startswith("/v1/"):
        response: web.StreamResponse = await handler(request)
        return response
    parent = _PROPAGATOR.extract(request.headers)
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "http.route": route,
        "url.path": request.path,
        "url.scheme": request.scheme,
        "server.address": request.host.rpartition(":")[0] or request.host,
    }
    agent = request.headers.get("user-agent")
    if agent:
        attributes["user_agent.original"] = agent
    if request.remote:
        attributes["client.address"] = request.remote
    with tracer().start_as_current_span(
        f"{request.method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:

        def end(status: int) -> None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))

        return await answered(request, handler, end)
