"""Applies one workspace command to the workspace's current snapshot (pure, no Kafka).

The router is the single writer of each workspace (one partition, one owner), so this
function is the whole of the config write path. It is idempotent by command id because
Faust reprocesses uncommitted commands after a restart
(docs/architecture.md#configuration-is-event-sourced): a command whose id the snapshot
already lists changes nothing. Every applied command bumps ``version`` by
one, so readers can tell a newer snapshot from a replayed older one.
"""

from __future__ import annotations

import dataclasses

from signet.errors import InvalidRecordError
from signet.records.model import (
    MAX_LOG_RETENTION_DAYS,
    MIN_LOG_RETENTION_DAYS,
    CommandKind,
    Destination,
    DestinationType,
    Environment,
    PublishableKey,
    WorkspaceCommand,
    WorkspaceConfig,
)

# Enough to cover every command Faust can replay after a restart (the uncommitted tail),
# small enough to keep snapshots compact.
APPLIED_COMMANDS_KEPT = 256
# The disabled_reason of a disable_destination command that gives none.
DISABLED_BY_SIGNET = "disabled by Signet"

_KINDS = frozenset(kind.value for kind in CommandKind)
_ENVIRONMENTS = frozenset(env.value for env in Environment)
_DESTINATION_TYPES = frozenset(t.value for t in DestinationType)


def already_applied(current: WorkspaceConfig | None, cmd: WorkspaceCommand) -> bool:
    return current is not None and cmd.id in current.applied_commands


def apply_command(current: WorkspaceConfig | None, cmd: WorkspaceCommand) -> WorkspaceConfig:
    """The snapshot after ``cmd``; ``current`` itself when ``cmd`` was already applied.

    Raises :class:`InvalidRecordError` saying why when the command cannot apply.
    """
    if not cmd.id:
        raise InvalidRecordError("command has no id")
    if not cmd.workspace_id:
        raise InvalidRecordError(f"command {cmd.id} has no workspace_id")
    if cmd.kind not in _KINDS:
        raise InvalidRecordError(f"command {cmd.id} has unknown kind {cmd.kind!r}")
    if current is not None and current.workspace_id != cmd.workspace_id:
        raise InvalidRecordError(
            f"command {cmd.id} for {cmd.workspace_id} applied to snapshot of {current.workspace_id}"
        )
    if current is not None and cmd.id in current.applied_commands:
        return current
    if cmd.kind == CommandKind.CREATE_WORKSPACE:
        created = _create(cmd)  # validates the command even when the workspace exists
        if current is None:
            return created
        # Creating an existing workspace changes nothing but is still recorded, so the
        # portal waiting for this command id sees it applied.
        return _record(current, cmd)
    if current is None:
        raise InvalidRecordError(
            f"command {cmd.id} ({cmd.kind}) for workspace {cmd.workspace_id}, which does not exist"
        )
    match cmd.kind:
        case CommandKind.ADD_PUBLISHABLE_KEY:
            return _record(current, cmd, publishable_keys=_add_key(current, cmd))
        case CommandKind.REVOKE_PUBLISHABLE_KEY:
            return _record(current, cmd, publishable_keys=_revoke_key(current, cmd))
        case CommandKind.PUT_DESTINATION:
            return _record(current, cmd, destinations=_put_destination(current, cmd))
        case CommandKind.DISABLE_DESTINATION:
            return _record(current, cmd, destinations=_disable_destination(current, cmd))
        case CommandKind.SET_LOG_RETENTION:
            days = _checked_retention(cmd)
            return dataclasses.replace(_record(current, cmd), log_retention_days=days)
        case _:  # CommandKind.DELETE_DESTINATION, the last one _KINDS lets through
            return _record(current, cmd, destinations=_delete_destination(current, cmd))


def _create(cmd: WorkspaceCommand) -> WorkspaceConfig:
    if not cmd.name:
        raise InvalidRecordError(f"create_workspace {cmd.id} has no name")
    if cmd.environment not in _ENVIRONMENTS:
        raise InvalidRecordError(
            f"create_workspace {cmd.id} has environment {cmd.environment!r}; "
            f"expected one of {sorted(_ENVIRONMENTS)}"
        )
    keys = [_checked_key(cmd, cmd.publishable_key)] if cmd.publishable_key else []
    return WorkspaceConfig(
        workspace_id=cmd.workspace_id,
        version=1,
        name=cmd.name,
        environment=cmd.environment,
        created_at=cmd.issued_at,
        updated_at=cmd.issued_at,
        publishable_keys=keys,
        applied_commands=[cmd.id],
    )


def _record(
    current: WorkspaceConfig,
    cmd: WorkspaceCommand,
    *,
    publishable_keys: list[PublishableKey] | None = None,
    destinations: list[Destination] | None = None,
) -> WorkspaceConfig:
    """The next version: the changed collections, the command id remembered."""
    return dataclasses.replace(
        current,
        version=current.version + 1,
        # Portal replicas' clocks may disagree; updated_at never goes backwards.
        updated_at=max(current.updated_at, cmd.issued_at),
        publishable_keys=(
            current.publishable_keys if publishable_keys is None else publishable_keys
        ),
        destinations=current.destinations if destinations is None else destinations,
        applied_commands=[*current.applied_commands, cmd.id][-APPLIED_COMMANDS_KEPT:],
    )


def _checked_retention(cmd: WorkspaceCommand) -> int | None:
    days = cmd.log_retention_days
    if days is not None and not MIN_LOG_RETENTION_DAYS <= days <= MAX_LOG_RETENTION_DAYS:
        raise InvalidRecordError(
            f"set_log_retention {cmd.id}: {days} days is not in "
            f"{MIN_LOG_RETENTION_DAYS}..{MAX_LOG_RETENTION_DAYS}"
        )
    return days


def _checked_key(cmd: WorkspaceCommand, key: PublishableKey) -> PublishableKey:
    if not key.id or not key.sha256:
        raise InvalidRecordError(f"{cmd.kind} {cmd.id}: publishable key needs an id and sha256")
    return key


def _add_key(current: WorkspaceConfig, cmd: WorkspaceCommand) -> list[PublishableKey]:
    if cmd.publishable_key is None:
        raise InvalidRecordError(f"add_publishable_key {cmd.id} has no publishable_key")
    key = _checked_key(cmd, cmd.publishable_key)
    return [*(k for k in current.publishable_keys if k.id != key.id), key]


def _revoke_key(current: WorkspaceConfig, cmd: WorkspaceCommand) -> list[PublishableKey]:
    if not cmd.target_id:
        raise InvalidRecordError(f"revoke_publishable_key {cmd.id} has no target_id")
    if not any(k.id == cmd.target_id for k in current.publishable_keys):
        raise InvalidRecordError(
            f"revoke_publishable_key {cmd.id}: workspace {cmd.workspace_id} has no "
            f"publishable key {cmd.target_id}"
        )
    return [
        # A key revoked twice keeps the time of its first revocation.
        dataclasses.replace(k, revoked_at=cmd.issued_at)
        if k.id == cmd.target_id and k.revoked_at is None
        else k
        for k in current.publishable_keys
    ]


def _put_destination(current: WorkspaceConfig, cmd: WorkspaceCommand) -> list[Destination]:
    destination = cmd.destination
    if destination is None:
        raise InvalidRecordError(f"put_destination {cmd.id} has no destination")
    if not destination.id:
        raise InvalidRecordError(f"put_destination {cmd.id}: destination has no id")
    if destination.type not in _DESTINATION_TYPES:
        raise InvalidRecordError(
            f"put_destination {cmd.id}: destination type {destination.type!r}; "
            f"expected one of {sorted(_DESTINATION_TYPES)}"
        )
    if destination.type == DestinationType.WEBHOOK and not destination.url:
        raise InvalidRecordError(f"put_destination {cmd.id}: a webhook destination needs a url")
    if destination.type == DestinationType.SLACK and destination.sealed_url is None:
        raise InvalidRecordError(
            f"put_destination {cmd.id}: a slack destination needs a sealed_url"
        )
    # Upsert in place: an update keeps the destination's position in the list.
    replaced = False
    result: list[Destination] = []
    for existing in current.destinations:
        if existing.id == destination.id:
            result.append(destination)
            replaced = True
        else:
            result.append(existing)
    if not replaced:
        result.append(destination)
    return result


def _delete_destination(current: WorkspaceConfig, cmd: WorkspaceCommand) -> list[Destination]:
    if not cmd.target_id:
        raise InvalidRecordError(f"delete_destination {cmd.id} has no target_id")
    # Deleting what is already gone reaches the state asked for: recorded, not refused,
    # so two racing DELETE requests both succeed.
    return [d for d in current.destinations if d.id != cmd.target_id]


def _disable_destination(current: WorkspaceConfig, cmd: WorkspaceCommand) -> list[Destination]:
    """The dispatcher's verdict on an endpoint (410, or failing too long): enabled=false.

    Changes nothing when the destination is gone, already disabled (its first reason
    stays), or was changed after the dispatcher decided (``updated_at > issued_at``: a
    re-enable, a new URL or secret wins over a verdict about the older version; if the
    endpoint keeps failing, the dispatcher decides again). Still recorded, so the command
    is applied once.
    """
    if not cmd.target_id:
        raise InvalidRecordError(f"disable_destination {cmd.id} has no target_id")
    return [
        dataclasses.replace(
            d,
            enabled=False,
            disabled_reason=cmd.reason or DISABLED_BY_SIGNET,
            updated_at=max(d.updated_at, cmd.issued_at),
        )
        if d.id == cmd.target_id and d.enabled and d.updated_at <= cmd.issued_at
        else d
        for d in current.destinations
    ]
