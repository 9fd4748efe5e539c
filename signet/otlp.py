"""OTLP/HTTP span export with a protobuf encoder made for the hot path.

OpenTelemetry's own exporter turns each batch into protobuf message objects
(``ExportTraceServiceRequest`` → ``ResourceSpans`` → ``Span`` → one ``KeyValue`` and one
``AnyValue`` per attribute) and then serializes them: about 26 µs per span of ours, on the
exporter's thread but under the service's interpreter lock (docs/benchmarks.md#tracing).
:func:`encode_request` writes the same bytes straight from the finished spans (the SDK's,
or :mod:`signet.spans`' records, which have the same fields) in about 7 µs: the wire
format of ``opentelemetry/proto/trace/v1/trace.proto`` (and ``common``, ``resource``),
field by field, remembering the encoded span attributes whose values repeat.
tests/signet/test_otlp.py checks it against the library's encoder for every field and
value type, parsed back with the official ``opentelemetry-proto`` classes.

:class:`OtlpSpanExporter` is the library's ``OTLPSpanExporter`` (endpoint, headers,
timeout, compression, certificates, retries: the standard ``OTEL_EXPORTER_OTLP_*``
variables, read by the library) with only the encoding replaced.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceState

# One byte for each varint below 128: most lengths, counts and enum values.
_SMALL = [bytes((n,)) for n in range(128)]
_U64 = 0xFFFF_FFFF_FFFF_FFFF
_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack

# Span flags (trace.proto SpanFlags): the parent's is_remote is known, and whether it is.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200


def varint(n: int) -> bytes:
    """A base-128 varint; a negative int64 as its two's complement (ten bytes)."""
    if 0 <= n < 128:
        return _SMALL[n]
    n &= _U64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message) with its tag byte(s)."""
    return tag + varint(len(payload)) + payload


def _text(tag: bytes, text: str) -> bytes:
    return _field(tag, text.encode()) if text else b""


# -- common.proto: AnyValue, KeyValue ------------------------------------------------------


def any_value(value: object) -> bytes:
    """An ``AnyValue`` (the attribute types the SDK allows, and sequences of them)."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())  # string_value = 1
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"  # bool_value = 2
    if isinstance(value, int):
        return b"\x18" + varint(value)  # int_value = 3
    if isinstance(value, float):
        return b"\x21" + _double(value)  # double_value = 4
    if isinstance(value, bytes):
        return _field(b"\x3a", value)  # bytes_value = 7
    if isinstance(value, Sequence):  # array_value = 5: ArrayValue { values = 1 }
        return _field(b"\x2a", b"".join(_field(b"\x0a", any_value(v)) for v in value))
    return _field(b"\x0a", str(value).encode())


def _key_value(tag: bytes, key: str, value: object) -> bytes:
    """A ``KeyValue`` (key = 1, value = 2) under ``tag``."""
    return _field(tag, _field(b"\x0a", key.encode()) + _field(b"\x12", any_value(value)))


# Encoded span attributes by key and value, for the values that repeat: most of ours do
# (the method, url and server of a destination, the topic, the status code), ids do not,
# and a key seen with more than _DISTINCT values is no longer remembered (None).
_DISTINCT = 64
_REMEMBERED: dict[str, dict[tuple[type, object], bytes] | None] = {}
_UNSEEN: dict[tuple[type, object], bytes] = {}
_SCALARS = (str, int, bool, float)


def _span_attribute(key: str, value: object) -> bytes:
    known = _REMEMBERED.get(key, _UNSEEN)
    if known is _UNSEEN:
        known = _REMEMBERED[key] = {}
    if known is None or type(value) not in _SCALARS:
        return _key_value(b"\x4a", key, value)
    by = (type(value), value)  # True and 1 are equal keys; their encodings are not
    encoded = known.get(by)
    if encoded is None:
        encoded = _key_value(b"\x4a", key, value)
        if len(known) < _DISTINCT:
            known[by] = encoded
        else:
            _REMEMBERED[key] = None
    return encoded


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` under ``tag``."""
    if not attributes:
        return b""
    if tag == b"\x4a":  # a span's own: Span.attributes = 9
        return b"".join([_span_attribute(key, value) for key, value in attributes.items()])
    return b"".join([_key_value(tag, key, value) for key, value in attributes.items()])


# -- trace.proto: Span ---------------------------------------------------------------------


def _flags(parent: SpanContext | None) -> int:
    return _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)


def _trace_state(state: TraceState | None) -> str:
    return ",".join(f"{key}={value}" for key, value in state.items()) if state else ""


def _count(tag: bytes, n: int) -> bytes:
    return tag + varint(n) if n else b""


def _events(span: ReadableSpan) -> bytes:
    # Span.events = 11: Event { time_unix_nano = 1 (fixed64), name = 2, attributes = 3,
    # dropped_attributes_count = 4 }
    return b"".join(
        _field(
            b"\x5a",
            b"\x09"
            + _fixed64(event.timestamp)
            + _text(b"\x12", event.name)
            + _attributes(b"\x1a", event.attributes)
            + _count(b"\x20", event.dropped_attributes),
        )
        for event in span.events
    )


def _links(span: ReadableSpan) -> bytes:
    # Span.links = 13: Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
    # dropped_attributes_count = 5, flags = 6 (fixed32) }
    return b"".join(
        _field(
            b"\x6a",
            b"\x0a\x10"
            + link.context.trace_id.to_bytes(16, "big")
            + b"\x12\x08"
            + link.context.span_id.to_bytes(8, "big")
            + _text(b"\x1a", _trace_state(link.context.trace_state))
            + _attributes(b"\x22", link.attributes)
            + _count(b"\x28", link.dropped_attributes)
            + b"\x35"
            + _fixed32(_flags(link.context)),
        )
        for link in span.links
    )


_UNSET_STATUS = b"\x7a\x00"  # status = 15, present (as the library writes it) but empty
_LOCAL_PARENT = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE)  # flags = 16 (fixed32)
_REMOTE_PARENT = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE | _IS_REMOTE)


def encode_span(span: ReadableSpan) -> bytes:
    """One ``Span`` message, fields in their numbers' order."""
    context, parent = span.get_span_context(), span.parent
    if context is None or span.start_time is None or span.end_time is None:
        raise ValueError(f"span {span.name!r} has not ended")
    status = span.status
    code = status.status_code.value
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),  # trace_id = 1
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),  # span_id = 2
    ]
    if context.trace_state:
        parts.append(_text(b"\x1a", _trace_state(context.trace_state)))  # trace_state = 3
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))  # parent_span_id = 4
    parts += (
        _text(b"\x2a", span.name),  # name = 5
        b"\x30" + _SMALL[span.kind.value + 1],  # kind = 6 (the proto counts from 1)
        b"\x39" + _fixed64(span.start_time),  # start_time_unix_nano = 7
        b"\x41" + _fixed64(span.end_time),  # end_time_unix_nano = 8
        _attributes(b"\x4a", span.attributes),  # attributes = 9
        _count(b"\x50", span.dropped_attributes),  # dropped_attributes_count = 10
    )
    if span.events:
        parts.append(_events(span))  # events = 11
    parts.append(_count(b"\x60", span.dropped_events))  # dropped_events_count = 12
    if span.links:
        parts.append(_links(span))  # links = 13
    parts.append(_count(b"\x70", span.dropped_links))  # dropped_links_count = 14
    # status = 15: Status { message = 2, code = 3 }
    if code or status.description:
        parts.append(
            _field(b"\x7a", _text(b"\x12", status.description or "") + _count(b"\x18", code))
        )
    else:
        parts.append(_UNSET_STATUS)
    parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    return b"".join(parts)


# -- the request: ResourceSpans { resource, ScopeSpans { scope, spans } } ----------------


def _scope(scope: InstrumentationScope | None) -> bytes:
    # ScopeSpans.scope = 1: InstrumentationScope { name = 1, version = 2, attributes = 3 }
    if scope is None:
        return b""
    return _field(
        b"\x0a",
        _text(b"\x0a", scope.name)
        + _text(b"\x12", scope.version or "")
        + _attributes(b"\x1a", scope.attributes),
    )


def _grouped(
    spans: Iterable[ReadableSpan],
) -> list[tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]]:
    """The encoded spans by resource and scope, in the order first seen. Grouped by
    identity: the SDK gives every span of a tracer the same objects (hashing a scope
    serializes its attributes to JSON, each time)."""
    resources: dict[
        int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[bytes]]]]
    ] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        scopes = resources.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(
            _field(b"\x12", encode_span(span))  # ScopeSpans.spans = 2
        )
    return [(resource, list(scopes.values())) for resource, scopes in resources.values()]


def encode_request(spans: Iterable[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest`` of ``spans``, grouped by resource and scope as the
    library groups them."""
    out = []
    for resource, scopes in _grouped(spans):
        parts = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]  # resource = 1
        for scope, encoded in scopes:
            schema = scope.schema_url if scope is not None else ""
            body = _scope(scope) + b"".join(encoded) + _text(b"\x1a", schema or "")
            parts.append(_field(b"\x12", body))  # scope_spans = 2
        parts.append(_text(b"\x1a", resource.schema_url))  # schema_url = 3
        out.append(_field(b"\x0a", b"".join(parts)))  # resource_spans = 1
    return b"".join(out)


class OtlpSpanExporter(OTLPSpanExporter):
    """The library's OTLP/HTTP exporter, sending :func:`encode_request`'s bytes."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            sent = self._client.export(encode_request(spans))
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        super().shutdown()  # type: ignore[no-untyped-call]  # the library's is unannotated
