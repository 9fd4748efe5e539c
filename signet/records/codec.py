"""Avro single-object encoding of every Signet record.

Wire format (Avro spec, "Single object encoding"): ``C3 01`` + the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's canonical form + the Avro binary body
(:mod:`signet_sdk.wire`, whose direct producer writes ``signet.Event`` the same way). Any
record names its own schema without a registry; a reader resolves an older writer schema
(kept in ``schemas/history/``) to the current one, so fields added with defaults appear.
"""

from __future__ import annotations

import dataclasses
import io
import types
import typing
from collections.abc import Callable
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import fastavro
import fastavro.schema
from signet_sdk.wire import MAGIC, fingerprint

from signet.errors import CodecError, UnknownSchemaError
from signet.records.model import TOP_LEVEL_RECORDS, Record

HEADER_SIZE = len(MAGIC) + 8
# The Avro contract ships inside the package (``schemas/`` at the repository root links here).
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

R = TypeVar("R", bound=Record)
Converter = Callable[[Any], Any]


@dataclasses.dataclass(slots=True, frozen=True)
class _Writer:
    name: str
    schema: Any
    header: bytes


class Codec:
    """Encodes records with the current schemas; decodes current and historical ones."""

    def __init__(self, schema_dir: Path = DEFAULT_SCHEMA_DIR) -> None:
        self._current: dict[str, _Writer] = {}
        self._by_fingerprint: dict[bytes, _Writer] = {}
        for record_type in TOP_LEVEL_RECORDS:
            path = schema_dir / f"{record_type.avro_name}.avsc"
            schema = fastavro.parse_schema(fastavro.schema.load_schema(str(path)))
            writer = _Writer(record_type.avro_name, schema, MAGIC + fingerprint(schema))
            self._current[writer.name] = writer
            self._by_fingerprint[writer.header[2:]] = writer
        history = schema_dir / "history"
        for path in sorted(history.glob("*.avsc")) if history.is_dir() else ():
            self.register_history(fastavro.schema.load_schema(str(path)))

    def register_history(self, schema: Any) -> None:
        """Accept records written with an older version of one of our schemas."""
        parsed = fastavro.parse_schema(schema)
        name = parsed["name"] if isinstance(parsed, dict) else None
        if not isinstance(name, str) or name not in self._current:
            raise CodecError(f"historical schema {name} has no current version")
        header = MAGIC + fingerprint(parsed)
        self._by_fingerprint.setdefault(header[2:], _Writer(name, parsed, header))

    def encode(self, record: Record) -> bytes:
        writer = self._current[record.avro_name]
        out = io.BytesIO()
        out.write(writer.header)
        try:
            fastavro.schemaless_writer(out, writer.schema, _to_avro(record))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CodecError(f"cannot encode {writer.name}: {exc}") from exc
        return out.getvalue()

    def encode_with(self, schema: Any, data: dict[str, Any]) -> bytes:
        """Encode a plain dict under an explicit schema (tests of older writers, tools)."""
        parsed = fastavro.parse_schema(schema)
        out = io.BytesIO()
        out.write(MAGIC + fingerprint(parsed))
        fastavro.schemaless_writer(out, parsed, data)
        return out.getvalue()

    def decode(self, data: bytes | None, expected: type[R]) -> R:
        """Decode bytes into ``expected``; any problem is a :class:`CodecError`."""
        if data is None:
            raise CodecError("record has no value (tombstone)")
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise CodecError("not an Avro single-object encoded record (bad magic)")
        writer = self._by_fingerprint.get(bytes(data[2:HEADER_SIZE]))
        if writer is None:
            raise UnknownSchemaError(f"unknown schema fingerprint {data[2:HEADER_SIZE].hex()}")
        if writer.name != expected.avro_name:
            raise CodecError(f"expected {expected.avro_name}, got {writer.name}")
        reader = self._current[writer.name]
        try:
            raw = fastavro.schemaless_reader(
                io.BytesIO(data[HEADER_SIZE:]),
                writer.schema,
                reader.schema if reader is not writer else None,
            )
        except Exception as exc:
            raise CodecError(f"cannot decode {writer.name}: {exc}") from exc
        try:
            return typing.cast(R, _converter(typing.cast(Any, expected))(raw))
        except (TypeError, ValueError, KeyError) as exc:
            raise CodecError(f"cannot build {writer.name}: {exc}") from exc


def _to_avro(record: Record) -> dict[str, Any]:
    names = _field_names(typing.cast(type, type(record)))
    return {name: _value_to_avro(getattr(record, name)) for name in names}


@cache
def _field_names(record_type: type) -> tuple[str, ...]:
    # dataclasses.fields() rebuilds its answer on every call; the router encodes a record
    # per delivery, so this is looked up once per type.
    return tuple(f.name for f in dataclasses.fields(record_type))


# Values fastavro takes as they are: most fields, so they skip the checks below.
_PLAIN_TYPES = frozenset({str, int, bytes, bool, float, type(None)})


def _value_to_avro(value: Any) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_avro(typing.cast(Record, value))
    if isinstance(value, list):
        return [_value_to_avro(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


@cache
def _converter(tp: Any) -> Converter:
    """Build (once per type) a function turning fastavro's output into ``tp``."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(tp)]

        def build(raw: dict[str, Any]) -> Any:
            return tp(**{name: conv(raw[name]) for name, conv in fields if name in raw})

        return build
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        conv = _converter(inner[0])
        return lambda raw: None if raw is None else conv(raw)
    if origin is list:
        item = _converter(typing.get_args(tp)[0])
        return lambda raw: [item(v) for v in raw]
    return _identity


def _identity(raw: Any) -> Any:
    return raw


@cache
def default_codec() -> Codec:
    """The process-wide codec over the repository's ``schemas/``."""
    return Codec()


def encode(record: Record) -> bytes:
    return default_codec().encode(record)


def decode(data: bytes | None, expected: type[R]) -> R:
    return default_codec().decode(data, expected)
