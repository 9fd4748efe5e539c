from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import fastavro.schema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signet_sdk.contract.events import EventSource, parse_event
from signet_sdk.wire import encode_event, fingerprint

from signet.errors import CodecError, UnknownSchemaError
from signet.records import codec
from signet.records.codec import DEFAULT_SCHEMA_DIR, Codec
from signet.records.model import (
    TOP_LEVEL_RECORDS,
    ClientTls,
    Delivery,
    Destination,
    Event,
    Outcome,
    PayloadErasure,
    RetryPolicy,
    SealedHeader,
    SealedSecret,
    SigningSecret,
    WorkspaceCommand,
    WorkspaceConfig,
)

text = st.text(max_size=40)
millis = st.integers(min_value=0, max_value=2**53)

events = st.builds(
    Event,
    id=text,
    workspace_id=text,
    type=text,
    resource=text,
    resource_id=text,
    payload=st.binary(max_size=512),
    created_at=millis,
    source=st.sampled_from(["http", "kafka"]),
)
sealed = st.builds(SealedSecret, key_id=text, wrapped_key=st.binary(), ciphertext=st.binary())
destinations = st.builds(
    Destination,
    id=text,
    type=st.sampled_from(["webhook", "slack"]),
    name=text,
    created_at=millis,
    updated_at=millis,
    url=st.none() | text,
    sealed_url=st.none() | sealed,
    event_types=st.lists(text, max_size=4),
    secrets=st.lists(
        st.builds(
            SigningSecret,
            id=text,
            sealed=sealed,
            hint=text,
            created_at=millis,
            expires_at=st.none() | millis,
        ),
        max_size=3,
    ),
    enabled=st.booleans(),
    timeout_seconds=st.none() | st.floats(min_value=0.1, max_value=60),
    rate_limit_per_second=st.none() | st.floats(min_value=0.001, max_value=10_000),
    retry_policy=st.none() | st.builds(RetryPolicy, max_attempts=st.none() | st.integers(1, 50)),
)
configs = st.builds(
    WorkspaceConfig,
    workspace_id=text,
    version=st.integers(0, 2**40),
    name=text,
    environment=st.sampled_from(["development", "staging", "production"]),
    created_at=millis,
    updated_at=millis,
    destinations=st.lists(destinations, max_size=3),
    applied_commands=st.lists(text, max_size=5),
)
outcomes = st.builds(
    Outcome,
    id=text,
    status=st.sampled_from(["delivered", "failed"]),
    delivery_id=text,
    event_id=text,
    workspace_id=text,
    destination_id=text,
    event_type=text,
    attempt=st.integers(1, 20),
    attempted_at=millis,
    event_created_at=millis,
    http_status=st.none() | st.integers(100, 599),
    request_headers=st.dictionaries(text, text, max_size=3),
)


@settings(max_examples=60)
@given(events)
def test_event_round_trip(event: Event) -> None:
    assert codec.decode(codec.encode(event), Event) == event


@settings(max_examples=40)
@given(configs)
def test_workspace_config_round_trip(config: WorkspaceConfig) -> None:
    assert codec.decode(codec.encode(config), WorkspaceConfig) == config


@settings(max_examples=40)
@given(outcomes)
def test_outcome_round_trip(outcome: Outcome) -> None:
    assert codec.decode(codec.encode(outcome), Outcome) == outcome


def test_single_object_header() -> None:
    delivery = Delivery("dlv_1", "evt_1", "ws_1", "dst_1", "order.completed", b"{}", 1, 5, 6)
    data = codec.encode(delivery)
    assert data[:2] == b"\xc3\x01"
    assert codec.decode(data, Delivery) == delivery


def test_wrong_record_type_is_rejected() -> None:
    data = codec.encode(Event("evt", "ws", "t", "r", "1", b"{}", 1))
    with pytest.raises(CodecError, match=r"expected signet\.Delivery"):
        codec.decode(data, Delivery)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{}", b"\xc3\x01", b"\xc3\x01" + b"\x00" * 8 + b"body", None],
)
def test_garbage_raises_codec_error(garbage: bytes | None) -> None:
    with pytest.raises(CodecError):
        codec.decode(garbage, Event)


def test_unknown_fingerprint() -> None:
    with pytest.raises(UnknownSchemaError):
        codec.decode(b"\xc3\x01" + b"\x01" * 8 + b"\x00", Event)


def test_truncated_body_raises_codec_error() -> None:
    data = codec.encode(Event("evt_1", "ws_1", "order.completed", "order", "o", b"{}", 1))
    with pytest.raises(CodecError):
        codec.decode(data[:-3], Event)


def _older_event_schema() -> dict[str, object]:
    """signet.Event as it was before ``source`` was added (an older writer)."""
    schema = json.loads((DEFAULT_SCHEMA_DIR / "signet.Event.avsc").read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "source"]
    return dict(schema)


def test_older_schema_version_still_decodes(tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    for path in DEFAULT_SCHEMA_DIR.glob("*.avsc"):
        (tmp_path / path.name).write_text(path.read_text())
    (history / "signet.Event.v0.avsc").write_text(json.dumps(_older_event_schema()))
    reader = Codec(tmp_path)
    old = reader.encode_with(
        _older_event_schema(),
        {
            "id": "evt_old",
            "workspace_id": "ws_1",
            "type": "order.completed",
            "resource": "order",
            "resource_id": "ord_1",
            "payload": b'{"a":1}',
            "created_at": 7,
        },
    )
    decoded = reader.decode(old, Event)
    assert decoded.id == "evt_old"
    assert decoded.source == "http"  # the default of the field the old writer lacked
    # Without the history entry the same bytes are an unknown schema, not garbage.
    with pytest.raises(UnknownSchemaError):
        Codec(DEFAULT_SCHEMA_DIR).decode(old, Event)


def _history(file_name: str) -> Any:
    return fastavro.schema.load_schema(str(DEFAULT_SCHEMA_DIR / "history" / file_name))


def _before_rate_limits(destination: Destination) -> dict[str, Any]:
    """A destination as the writers before ``rate_limit_per_second`` wrote it."""
    fields = dataclasses.asdict(destination)
    del fields["rate_limit_per_second"]
    return fields


def test_config_and_commands_written_before_rate_limits_still_decode() -> None:
    destination = Destination(
        id="dst_1",
        type="webhook",
        name="Primary",
        created_at=5,
        updated_at=6,
        url="https://hooks.example.com/in",
        event_types=["order.*"],
        secrets=[SigningSecret("sec_1", SealedSecret("k1", b"w", b"c"), "…abcd", 5)],
        timeout_seconds=7.5,
        retry_policy=RetryPolicy(max_attempts=3),
    )
    config = WorkspaceConfig("ws_1", 4, "Shop", "production", 1, 6, [], [destination], ["cmd_1"])
    old_config = codec.default_codec().encode_with(
        _history("signet.WorkspaceConfig.v0.avsc"),
        dataclasses.asdict(config) | {"destinations": [_before_rate_limits(destination)]},
    )
    assert codec.decode(old_config, WorkspaceConfig) == config  # the limit reads as None

    command = WorkspaceCommand("cmd_2", "ws_1", "put_destination", 6, destination=destination)
    old_command = codec.default_codec().encode_with(
        _history("signet.WorkspaceCommand.v1.avsc"),
        dataclasses.asdict(command) | {"destination": _before_rate_limits(destination)},
    )
    decoded = codec.decode(old_command, WorkspaceCommand)
    assert decoded == command and decoded.destination is not None
    assert decoded.destination.rate_limit_per_second is None

    limited = dataclasses.replace(destination, rate_limit_per_second=0.5)
    current = codec.decode(
        codec.encode(dataclasses.replace(config, destinations=[limited])), WorkspaceConfig
    )
    assert current.destinations == [limited]


def test_every_historical_schema_is_an_older_version() -> None:
    """A history file identical to the current schema would be a forgotten change."""
    current = {
        path.name.removesuffix(".avsc"): fingerprint(
            fastavro.parse_schema(fastavro.schema.load_schema(str(path)))
        )
        for path in DEFAULT_SCHEMA_DIR.glob("*.avsc")
    }
    for path in (DEFAULT_SCHEMA_DIR / "history").glob("*.avsc"):
        name = path.name.split(".v")[0]
        assert name in current, path.name
        old = fingerprint(fastavro.parse_schema(_history(path.name)))
        assert old != current[name], path.name


def test_the_sdk_writes_events_the_services_read() -> None:
    """The direct producer encodes ``signet.Event`` with the SDK's own code
    (signet_sdk.wire): the services' codec reads it back as the same record."""
    item = parse_event(
        {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}}
    )
    record = item.to_record("ws_1", event_id="evt_1", source=EventSource.KAFKA, created_at=7)
    decoded = codec.decode(encode_event(record), Event)
    assert decoded == Event(**record)
    assert codec.encode(decoded) == encode_event(record)


def test_config_and_commands_written_before_log_retention_still_decode() -> None:
    """Records of the writers before ``log_retention_days`` read it as None (the global)."""
    config = WorkspaceConfig("ws_1", 4, "Shop", "production", 1, 6, [], [], ["cmd_1"])
    fields = dataclasses.asdict(config)
    del fields["log_retention_days"]
    old = codec.default_codec().encode_with(_history("signet.WorkspaceConfig.v1.avsc"), fields)
    assert codec.decode(old, WorkspaceConfig) == config

    command = WorkspaceCommand("cmd_2", "ws_1", "revoke_publishable_key", 6, target_id="pk_1")
    fields = dataclasses.asdict(command)
    del fields["log_retention_days"]
    old = codec.default_codec().encode_with(_history("signet.WorkspaceCommand.v2.avsc"), fields)
    assert codec.decode(old, WorkspaceCommand) == command

    kept = dataclasses.replace(config, log_retention_days=90)
    assert codec.decode(codec.encode(kept), WorkspaceConfig).log_retention_days == 90


def test_a_payload_erasure_round_trips() -> None:
    erasure = PayloadErasure("era_1", "ws_1", "evt_1", 7, requested_by="ses_1")
    assert codec.decode(codec.encode(erasure), PayloadErasure) == erasure


def test_config_and_commands_written_before_headers_and_tls_still_decode() -> None:
    """Destinations of the writers before custom headers and mutual TLS read them as
    none; the current schema keeps all three."""
    destination = Destination("dst_1", "webhook", "Primary", 5, 6, url="https://h.example/in")
    fields = dataclasses.asdict(destination)
    for name in ("headers", "sealed_headers", "tls"):
        del fields[name]
    config = WorkspaceConfig("ws_1", 4, "Shop", "production", 1, 6, [], [destination], ["c"])
    old = codec.default_codec().encode_with(
        _history("signet.WorkspaceConfig.v2.avsc"),
        dataclasses.asdict(config) | {"destinations": [fields]},
    )
    assert codec.decode(old, WorkspaceConfig) == config

    command = WorkspaceCommand("cmd_2", "ws_1", "put_destination", 6, destination=destination)
    old = codec.default_codec().encode_with(
        _history("signet.WorkspaceCommand.v3.avsc"),
        dataclasses.asdict(command) | {"destination": fields},
    )
    assert codec.decode(old, WorkspaceCommand) == command

    sealed = SealedSecret("k1", b"w", b"c")
    extended = dataclasses.replace(
        destination,
        headers={"X-Tenant": "acme"},
        sealed_headers=[SealedHeader("Authorization", sealed, "…abcd")],
        tls=ClientTls("-----BEGIN CERTIFICATE-----", sealed, "CN=c", "ab" * 32, 7, None),
    )
    current = dataclasses.replace(config, destinations=[extended])
    assert codec.decode(codec.encode(current), WorkspaceConfig) == current


def _record_types(record_type: type, seen: set[type]) -> None:
    """``record_type`` and every record dataclass its fields hold, into ``seen``."""
    if record_type in seen:
        return
    seen.add(record_type)
    hints = typing.get_type_hints(record_type)
    for field in dataclasses.fields(record_type):
        for inner in (hints[field.name], *typing.get_args(hints[field.name])):
            for candidate in (inner, *typing.get_args(inner)):
                if dataclasses.is_dataclass(candidate) and isinstance(candidate, type):
                    _record_types(candidate, seen)


def _schema_fields(schema: Any, found: dict[str, set[str]]) -> None:
    """Every named record of a parsed schema: its full name → its field names."""
    if isinstance(schema, list):
        for item in schema:
            _schema_fields(item, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            found[schema["name"]] = {f["name"] for f in schema["fields"]}
            for f in schema["fields"]:
                _schema_fields(f["type"], found)
        else:
            for key in ("items", "type"):
                if key in schema:
                    _schema_fields(schema[key], found)


def test_every_record_field_is_in_its_schema() -> None:
    """A dataclass field the .avsc lacks would be dropped by encode without a word (and a
    schema field the dataclass lacks never read): the two name the same fields."""
    seen: set[type] = set()
    for record_type in TOP_LEVEL_RECORDS:
        _record_types(record_type, seen)
    schemas: dict[str, set[str]] = {}
    for path in sorted(DEFAULT_SCHEMA_DIR.glob("*.avsc")):
        _schema_fields(fastavro.schema.load_schema(str(path)), schemas)
    for record_type in sorted(seen, key=lambda t: t.__name__):
        name = record_type.avro_name
        assert name in schemas, f"{name} has no schema"
        fields = {f.name for f in dataclasses.fields(record_type)}
        assert fields == schemas[name], (name, fields ^ schemas[name])
