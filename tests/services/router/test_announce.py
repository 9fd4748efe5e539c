"""Unit tests of which operational events an applied command announces (pure)."""

from __future__ import annotations

import dataclasses

import orjson

from services.router.announce import announcements, disable_cause
from services.router.apply import apply_command
from signet.operator_webhook.events import (
    OPERATOR_DESTINATION_ID,
    OPERATOR_WORKSPACE_ID,
    DisableCause,
)
from signet.records.model import (
    ClientTls,
    CommandKind,
    Delivery,
    SealedHeader,
    SealedSecret,
    SigningSecret,
    WorkspaceCommand,
    WorkspaceConfig,
)

from .records import command, create_workspace, put_destination, webhook

WS = "ws_announced"


def applied(before: WorkspaceConfig | None, cmd: WorkspaceCommand) -> list[Delivery]:
    return announcements(before, apply_command(before, cmd), cmd)


def body(delivery: Delivery) -> dict[str, object]:
    parsed: dict[str, object] = orjson.loads(delivery.body)
    return parsed


def with_destination() -> tuple[WorkspaceConfig, str]:
    config = apply_command(None, create_workspace(WS))
    destination = webhook()
    return apply_command(config, put_destination(WS, destination)), destination.id


def test_a_new_destination_is_announced_created_to_the_operator() -> None:
    config = apply_command(None, create_workspace(WS))
    destination = webhook(url="https://receiver.example/a")
    cmd = put_destination(WS, destination)
    (created,) = applied(config, cmd)
    assert created.event_type == "destination.created"
    assert (created.workspace_id, created.destination_id) == (
        OPERATOR_WORKSPACE_ID,
        OPERATOR_DESTINATION_ID,
    )
    sent = body(created)
    assert sent["type"] == "destination.created"
    assert sent["data"] == {
        "workspace_id": WS,
        "destination_id": destination.id,
        "type": "webhook",
        "name": "orders",
        "url": "https://receiver.example/a",
        "event_types": ["*"],
        "enabled": True,
    }
    # A redo of the same command announces the very same record: ids from the cause.
    (again,) = announcements(config, apply_command(config, cmd), cmd)
    assert (again.id, again.event_id, again.body) == (created.id, created.event_id, created.body)


def test_an_edit_names_what_changed_and_a_rotation_is_its_own_event() -> None:
    config, destination_id = with_destination()
    current = config.destination(destination_id)
    assert current is not None
    edited = dataclasses.replace(current, name="renamed", event_types=["order.*"])
    (updated,) = applied(config, put_destination(WS, edited))
    assert updated.event_type == "destination.updated"
    assert body(updated)["data"]["changed"] == ["name", "event_types"]  # type: ignore[index]

    newer = SigningSecret(id="sec_new", sealed=current.secrets[0].sealed, hint="…new", created_at=9)
    rotated = dataclasses.replace(current, secrets=[newer, *current.secrets])
    (event,) = applied(config, put_destination(WS, rotated))
    assert event.event_type == "destination.secret_rotated"
    assert body(event)["data"]["secret_id"] == "sec_new"  # type: ignore[index]


def test_a_reseal_changes_nothing_an_operator_sees_and_announces_nothing() -> None:
    config, destination_id = with_destination()
    current = config.destination(destination_id)
    assert current is not None
    resealed = SealedSecret(key_id="k2", wrapped_key=b"\x03" * 40, ciphertext=b"\x04" * 60)
    secret = dataclasses.replace(current.secrets[0], sealed=resealed)
    same = dataclasses.replace(current, secrets=[secret], updated_at=current.updated_at + 1)
    assert applied(config, put_destination(WS, same)) == []


def test_deleting_announces_once_and_deleting_what_is_gone_announces_nothing() -> None:
    config, destination_id = with_destination()
    delete = command(WS, CommandKind.DELETE_DESTINATION, target_id=destination_id)
    (deleted,) = applied(config, delete)
    assert deleted.event_type == "destination.deleted"
    gone = apply_command(config, delete)
    again = command(WS, CommandKind.DELETE_DESTINATION, target_id=destination_id)
    assert applied(gone, again) == []


def test_a_disable_says_its_cause_and_an_ignored_one_announces_nothing() -> None:
    config, destination_id = with_destination()
    current = config.destination(destination_id)
    assert current is not None
    disable = dataclasses.replace(
        command(
            WS,
            CommandKind.DISABLE_DESTINATION,
            target_id=destination_id,
            reason="HTTP 410: the receiver asked to stop deliveries",
        ),
        issued_at=current.updated_at + 1,  # decided about the destination as it is
    )
    (disabled,) = applied(config, disable)
    data = body(disabled)["data"]
    assert disabled.event_type == "destination.disabled"
    assert data["cause"] == "gone" and data["http_status"] == 410  # type: ignore[index]
    # About a version the customer changed since: the router ignores it, so no event.
    stale = dataclasses.replace(disable, id="cmd_stale", issued_at=current.updated_at - 1)
    assert applied(config, stale) == []


def test_disable_causes_are_read_from_the_dispatchers_reasons() -> None:
    assert disable_cause("HTTP 410: the receiver asked to stop deliveries") is DisableCause.GONE
    assert disable_cause("failing continuously since 2026-…") is DisableCause.FAILING
    assert disable_cause("disabled by Signet") is DisableCause.OTHER
    assert disable_cause(None) is DisableCause.OTHER


def test_commands_about_workspaces_and_keys_announce_nothing() -> None:
    assert applied(None, create_workspace(WS)) == []


def test_headers_and_tls_changes_are_announced_and_their_reseal_is_not() -> None:
    config, destination_id = with_destination()
    current = config.destination(destination_id)
    assert current is not None
    box = SealedSecret(key_id="k1", wrapped_key=b"\x01" * 40, ciphertext=b"\x02" * 60)
    tls = ClientTls("-----BEGIN CERTIFICATE-----", box, "CN=c", "ab" * 32, 7)
    extended = dataclasses.replace(
        current,
        headers={"X-Tenant": "acme"},
        sealed_headers=[SealedHeader("Authorization", box, "…abcd")],
        tls=tls,
    )
    (updated,) = applied(config, put_destination(WS, extended))
    assert body(updated)["data"]["changed"] == ["headers", "tls"]  # type: ignore[index]
    assert b"acme" not in updated.body and b"abcd" not in updated.body  # names only

    config = apply_command(config, put_destination(WS, extended))
    other = SealedSecret(key_id="k2", wrapped_key=b"\x03" * 40, ciphertext=b"\x04" * 60)
    resealed = dataclasses.replace(
        extended,
        sealed_headers=[SealedHeader("Authorization", other, "…abcd")],
        tls=dataclasses.replace(tls, sealed_key=other),
        updated_at=extended.updated_at + 1,
    )
    assert applied(config, put_destination(WS, resealed)) == []
