"""The disable_destination command: built by the dispatcher, applied by the router, and
the schema evolution that carries it (and a retry's failing_since)."""

from __future__ import annotations

import dataclasses

import fastavro
import fastavro.schema
import pytest
from signet_sdk.ids import new_id

from services.dispatcher.disabling import disable_command, disabled_outcome
from services.router.apply import DISABLED_BY_SIGNET, apply_command
from signet.errors import InvalidRecordError
from signet.records import codec
from signet.records.codec import DEFAULT_SCHEMA_DIR
from signet.records.model import (
    CommandKind,
    Delivery,
    Destination,
    WorkspaceCommand,
    WorkspaceConfig,
)

T0 = 1_700_000_000_000


def destination(**changes: object) -> Destination:
    base = Destination(
        id="dst_1", type="webhook", name="hook", created_at=T0, updated_at=T0, url="https://x.io"
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def delivery() -> Delivery:
    return Delivery("dlv_1", "evt_1", "ws_1", "dst_1", "order.completed", b"{}", 3, T0, T0)


def config(*destinations: Destination) -> WorkspaceConfig:
    return WorkspaceConfig("ws_1", 3, "Acme", "production", T0, T0, [], list(destinations))


def test_the_command_is_derived_from_the_destination_version() -> None:
    first = disable_command("ws_1", destination(), "HTTP 410", T0 + 5)
    again = disable_command("ws_1", destination(), "HTTP 410", T0 + 9)
    assert first.kind == "disable_destination" == CommandKind.DISABLE_DESTINATION.value
    assert first.target_id == "dst_1" and first.reason == "HTTP 410"
    assert first.id == again.id and first.id.startswith("cmd_") and len(first.id) == 30
    assert disable_command("ws_1", destination(updated_at=T0 + 1), "x", T0).id != first.id
    outcome = disabled_outcome(delivery(), destination(), "HTTP 410", 410, first.id, T0 + 5)
    assert outcome.id == disabled_outcome(delivery(), destination(), "x", 410, first.id, T0 + 9).id


def test_the_router_disables_once_and_keeps_the_reason() -> None:
    before = config(destination(), destination(id="dst_2"))
    command = disable_command("ws_1", destination(), "HTTP 410: gone", T0 + 5)
    after = apply_command(before, command)
    gone = after.destination("dst_1")
    assert gone is not None and not gone.enabled
    assert gone.disabled_reason == "HTTP 410: gone" and gone.updated_at == T0 + 5
    assert after.destination("dst_2") == before.destination("dst_2")
    assert after.version == before.version + 1 and command.id in after.applied_commands
    assert apply_command(after, command) is after  # replayed: nothing changes

    later = disable_command("ws_1", gone, "failing for 5 days", T0 + 10)
    again = apply_command(after, later)
    assert again.destination("dst_1") == gone  # already disabled: the first reason stays


def test_a_destination_changed_after_the_decision_wins() -> None:
    """The customer re-enabled (or fixed) it after the dispatcher decided: not disabled."""
    edited = destination(updated_at=T0 + 100)
    command = disable_command("ws_1", destination(), "HTTP 410", T0 + 50)
    after = apply_command(config(edited), command)
    assert after.destination("dst_1") == edited
    assert command.id in after.applied_commands


def test_a_missing_destination_or_target() -> None:
    command = disable_command("ws_1", destination(id="dst_gone"), "x", T0)
    after = apply_command(config(destination()), command)
    assert after.destinations == [destination()]
    no_reason = dataclasses.replace(command, target_id="dst_1", reason=None)
    disabled = apply_command(config(destination()), no_reason).destination("dst_1")
    assert disabled is not None and disabled.disabled_reason == DISABLED_BY_SIGNET
    with pytest.raises(InvalidRecordError, match="no target_id"):
        apply_command(config(), dataclasses.replace(command, target_id=None))


def old_schema(name: str) -> object:
    path = DEFAULT_SCHEMA_DIR / "history" / f"{name}.v0.avsc"
    return fastavro.schema.load_schema(str(path))


def test_records_written_before_the_new_fields_still_decode() -> None:
    delivery = codec.default_codec().encode_with(
        old_schema("signet.Delivery"),
        {
            "id": "dlv_1",
            "event_id": "evt_1",
            "workspace_id": "ws_1",
            "destination_id": "dst_1",
            "event_type": "order.completed",
            "body": b"{}",
            "attempt": 2,
            "event_created_at": T0,
            "due_at": T0 + 5000,
            "first_attempt_at": T0,
            "replay_of": None,
        },
    )
    decoded = codec.decode(delivery, Delivery)
    assert decoded.attempt == 2 and decoded.failing_since is None

    command = codec.default_codec().encode_with(
        old_schema("signet.WorkspaceCommand"),
        {
            "id": "cmd_1",
            "workspace_id": "ws_1",
            "kind": "delete_destination",
            "issued_at": T0,
            "name": None,
            "environment": None,
            "publishable_key": None,
            "destination": None,
            "target_id": "dst_1",
        },
    )
    read = codec.decode(command, WorkspaceCommand)
    assert read.target_id == "dst_1" and read.reason is None


def test_the_new_fields_round_trip() -> None:
    retry = Delivery(
        id=new_id("dlv"),
        event_id="evt_1",
        workspace_id="ws_1",
        destination_id="dst_1",
        event_type="order.completed",
        body=b"{}",
        attempt=3,
        event_created_at=T0,
        due_at=T0 + 30_000,
        first_attempt_at=T0,
        failing_since=T0 - 86_400_000,
    )
    assert codec.decode(codec.encode(retry), Delivery) == retry
    command = disable_command("ws_1", destination(), "why", T0)
    assert codec.decode(codec.encode(command), WorkspaceCommand) == command
