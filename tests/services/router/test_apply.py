"""Unit tests of the command → snapshot logic (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from services.router.apply import APPLIED_COMMANDS_KEPT, already_applied, apply_command
from signet.errors import InvalidRecordError
from signet.records import codec
from signet.records.model import CommandKind, WorkspaceConfig

from .records import command, create_workspace, publishable_key, put_destination, slack, webhook

WS = "ws_casterly"


def created() -> WorkspaceConfig:
    return apply_command(None, create_workspace(WS))


def test_create_workspace_starts_at_version_one() -> None:
    key = publishable_key()
    cmd = create_workspace(WS, name="Casterly", environment="staging", publishable_key=key)
    config = apply_command(None, cmd)
    assert config.workspace_id == WS
    assert (config.version, config.name, config.environment) == (1, "Casterly", "staging")
    assert config.created_at == config.updated_at == cmd.issued_at
    assert config.publishable_keys == [key]
    assert config.destinations == []
    assert config.applied_commands == [cmd.id]
    # The snapshot is what goes on the wire: it must encode and decode unchanged.
    assert codec.decode(codec.encode(config), WorkspaceConfig) == config


def test_create_of_an_existing_workspace_changes_nothing_but_is_recorded() -> None:
    first = created()
    again = create_workspace(WS, name="Another name", environment="development")
    config = apply_command(first, again)
    assert (config.name, config.environment, config.publishable_keys) == (
        first.name,
        first.environment,
        first.publishable_keys,
    )
    assert config.version == 2
    assert config.applied_commands == [*first.applied_commands, again.id]


def test_add_and_revoke_publishable_keys() -> None:
    config = created()
    key = publishable_key()
    config = apply_command(
        config, command(WS, CommandKind.ADD_PUBLISHABLE_KEY, publishable_key=key)
    )
    assert [k.id for k in config.publishable_keys][-1] == key.id
    assert config.version == 2
    revoke = command(WS, CommandKind.REVOKE_PUBLISHABLE_KEY, target_id=key.id)
    config = apply_command(config, revoke)
    revoked = next(k for k in config.publishable_keys if k.id == key.id)
    assert revoked.revoked_at == revoke.issued_at
    assert all(k.revoked_at is None for k in config.publishable_keys if k.id != key.id)
    # A second revocation keeps the first time.
    config = apply_command(
        config, command(WS, CommandKind.REVOKE_PUBLISHABLE_KEY, target_id=key.id)
    )
    assert next(k for k in config.publishable_keys if k.id == key.id).revoked_at == (
        revoke.issued_at
    )
    assert config.version == 4


def test_add_key_with_a_known_id_replaces_it() -> None:
    config = created()
    key = config.publishable_keys[0]
    replacement = dataclasses.replace(key, hint="pk_live_…NEW")
    config = apply_command(
        config, command(WS, CommandKind.ADD_PUBLISHABLE_KEY, publishable_key=replacement)
    )
    assert config.publishable_keys == [replacement]


def test_put_destination_upserts_by_id_in_place() -> None:
    config = created()
    first, second = webhook("dst_1"), slack("dst_2")
    config = apply_command(config, put_destination(WS, first))
    config = apply_command(config, put_destination(WS, second))
    assert [d.id for d in config.destinations] == ["dst_1", "dst_2"]
    updated = dataclasses.replace(first, url="https://new.example/hooks", enabled=False)
    config = apply_command(config, put_destination(WS, updated))
    assert config.destinations == [updated, second]
    assert config.version == 4


def test_delete_destination_and_delete_of_a_missing_one() -> None:
    config = apply_command(created(), put_destination(WS, webhook("dst_1")))
    config = apply_command(config, command(WS, CommandKind.DELETE_DESTINATION, target_id="dst_1"))
    assert config.destinations == []
    gone = command(WS, CommandKind.DELETE_DESTINATION, target_id="dst_1")
    config = apply_command(config, gone)
    assert config.destinations == [] and config.version == 4
    assert config.applied_commands[-1] == gone.id


def test_an_applied_command_changes_nothing_the_second_time() -> None:
    config = created()
    put = put_destination(WS, webhook("dst_1"))
    once = apply_command(config, put)
    assert already_applied(once, put)
    assert apply_command(once, put) is once
    create = create_workspace(WS, id=config.applied_commands[0])
    assert apply_command(once, create) is once


def test_updated_at_never_goes_backwards() -> None:
    config = created()
    late = dataclasses.replace(put_destination(WS, webhook()), issued_at=config.updated_at - 5000)
    assert apply_command(config, late).updated_at == config.updated_at


def test_applied_commands_are_bounded_newest_last() -> None:
    config = created()
    ids = []
    for i in range(APPLIED_COMMANDS_KEPT + 10):
        cmd = command(WS, CommandKind.DELETE_DESTINATION, target_id=f"dst_{i}")
        ids.append(cmd.id)
        config = apply_command(config, cmd)
    assert len(config.applied_commands) == APPLIED_COMMANDS_KEPT
    assert config.applied_commands == ids[-APPLIED_COMMANDS_KEPT:]
    assert config.version == APPLIED_COMMANDS_KEPT + 11


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: put_destination(WS, webhook()), "does not exist"),
        (lambda: command(WS, CommandKind.DELETE_DESTINATION, target_id="x"), "does not exist"),
    ],
)
def test_commands_on_a_missing_workspace_are_invalid(build: object, reason: str) -> None:
    with pytest.raises(InvalidRecordError, match=reason):
        apply_command(None, build())  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "rename_workspace"}, "unknown kind 'rename_workspace'"),
        ({"id": ""}, "no id"),
        ({"workspace_id": "ws_other"}, "applied to snapshot of ws_casterly"),
        ({"kind": "add_publishable_key"}, "has no publishable_key"),
        ({"kind": "revoke_publishable_key"}, "has no target_id"),
        ({"kind": "revoke_publishable_key", "target_id": "pk_nope"}, "no publishable key pk_nope"),
        ({"kind": "put_destination"}, "has no destination"),
        ({"kind": "delete_destination"}, "has no target_id"),
        ({"kind": "put_destination", "destination": webhook(url="")}, "needs a url"),
        (
            {"kind": "put_destination", "destination": dataclasses.replace(webhook(), type="sms")},
            "destination type 'sms'",
        ),
        (
            {
                "kind": "put_destination",
                "destination": dataclasses.replace(slack(), sealed_url=None),
            },
            "needs a sealed_url",
        ),
    ],
)
def test_invalid_commands_say_why(fields: dict[str, object], reason: str) -> None:
    base = command(WS, CommandKind.CREATE_WORKSPACE)
    with pytest.raises(InvalidRecordError, match=reason):
        apply_command(created(), dataclasses.replace(base, **fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": None}, "has no name"),
        ({"environment": "prod"}, "environment 'prod'"),
        (
            {"publishable_key": dataclasses.replace(publishable_key(), sha256="")},
            "needs an id and sha256",
        ),
    ],
)
def test_invalid_create_says_why(fields: dict[str, object], reason: str) -> None:
    for current in (None, created()):
        with pytest.raises(InvalidRecordError, match=reason):
            apply_command(current, create_workspace(WS, **fields))


def test_set_log_retention_sets_and_clears_the_workspaces_own() -> None:
    config = apply_command(
        created(), command(WS, CommandKind.SET_LOG_RETENTION, log_retention_days=7)
    )
    assert (config.log_retention_days, config.version) == (7, 2)
    assert codec.decode(codec.encode(config), WorkspaceConfig) == config
    config = apply_command(config, command(WS, CommandKind.SET_LOG_RETENTION))
    assert (config.log_retention_days, config.version) == (None, 3)  # the global one again


@pytest.mark.parametrize("days", [0, 366, -1])
def test_set_log_retention_outside_1_to_365_is_invalid(days: int) -> None:
    cmd = command(WS, CommandKind.SET_LOG_RETENTION, log_retention_days=days)
    with pytest.raises(InvalidRecordError, match=r"1\.\.365"):
        apply_command(created(), cmd)
