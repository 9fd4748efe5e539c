"""The ``signet.Event`` record as it travels on ``signet.events``: Avro single-object encoding.

Wire format (Avro spec, "Single object encoding"): ``C3 01`` + the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's canonical form + the Avro binary body. The
schema ships in this package (``schemas/signet.Event.avsc``); the services decode every
record type this way (``signet.records.codec``, which takes :func:`fingerprint` from here).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema

MAGIC = b"\xc3\x01"
EVENT_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "signet.Event.avsc"


def fingerprint(schema: Any) -> bytes:
    """CRC-64-AVRO fingerprint of a parsed schema, as the 8 little-endian wire bytes."""
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    value = int(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"), 16)
    return struct.pack("<Q", value)


@cache
def _event_writer() -> tuple[Any, bytes]:
    schema = fastavro.parse_schema(fastavro.schema.load_schema(str(EVENT_SCHEMA_PATH)))
    return schema, MAGIC + fingerprint(schema)


def encode_event(record: Mapping[str, Any]) -> bytes:
    """``record`` (the fields of :meth:`EventInput.to_record
    <signet_sdk.contract.events.EventInput.to_record>`) as the bytes a router reads."""
    schema, header = _event_writer()
    out = io.BytesIO()
    out.write(header)
    fastavro.schemaless_writer(out, schema, dict(record))
    return out.getvalue()
