"""The command bus: every configuration change leaves as a WorkspaceCommand, and a write is
answered only once the portal's own config view shows it applied (read-your-writes).

The router is the single writer of a workspace's snapshot; the bus produces the command
keyed by workspace id (murmur2, co-partitioned with the config topic), then waits until
the snapshot's ``applied_commands`` holds the command id. Both steps share one deadline.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from signet_sdk.ids import new_id, now_ms

from services.portal.metrics import PortalMetrics
from signet.errors import BrokerError, CommandTimeoutError
from signet.records import codec
from signet.records.model import (
    CommandKind,
    Destination,
    Environment,
    PublishableKey,
    WorkspaceCommand,
    WorkspaceConfig,
)

logger = logging.getLogger(__name__)


class CommandProducer(Protocol):
    """What the bus needs of a producer (``signet.kafka.clients.AsyncProducer``)."""

    async def send(
        self, topic: str, value: bytes | None, key: bytes | str | None = None, *, timeout: float
    ) -> object: ...


class ConfigReader(Protocol):
    """What the portal reads from the config view (``signet.kafka.config_view.ConfigView``)."""

    @property
    def ready(self) -> bool: ...

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None: ...

    def workspaces(self) -> list[WorkspaceConfig]: ...

    async def wait_for_command(
        self, workspace_id: str, command_id: str, timeout: float
    ) -> bool: ...


class CommandBus:
    def __init__(
        self,
        producer: CommandProducer,
        view: ConfigReader,
        topic: str,
        *,
        timeout_seconds: float,
        metrics: PortalMetrics,
    ) -> None:
        self._producer = producer
        self._view = view
        self._topic = topic
        self._timeout = timeout_seconds
        self._metrics = metrics

    async def submit(self, command: WorkspaceCommand) -> WorkspaceConfig:
        """Produce ``command``; return the first snapshot that includes it.

        :class:`BrokerError` when Kafka did not acknowledge (nothing was written);
        :class:`CommandTimeoutError` when it was written but not seen applied in time
        (it may still apply later).
        """
        started = time.monotonic()
        deadline = started + self._timeout
        try:
            await self._producer.send(
                self._topic,
                codec.encode(command),
                key=command.workspace_id,
                timeout=self._timeout,
            )
        except BrokerError:
            self._metrics.commands.labels(command.kind, "broker_error").inc()
            raise
        applied = await self._view.wait_for_command(
            command.workspace_id, command.id, max(0.0, deadline - time.monotonic())
        )
        config = self._view.workspace(command.workspace_id)
        if not applied or config is None:
            self._metrics.commands.labels(command.kind, "timeout").inc()
            logger.warning(
                "command %s (%s) on %s not applied within %.1fs",
                command.id,
                command.kind,
                command.workspace_id,
                self._timeout,
            )
            raise CommandTimeoutError(
                f"command {command.id} was accepted but not applied within {self._timeout:g}s"
            )
        self._metrics.commands.labels(command.kind, "applied").inc()
        self._metrics.command_seconds.observe(time.monotonic() - started)
        return config


# -- command constructors: one per kind, so no handler spells a kind or forgets a field ----


def create_workspace(
    workspace_id: str, name: str, environment: Environment, key: PublishableKey
) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.CREATE_WORKSPACE.value,
        issued_at=now_ms(),
        name=name,
        environment=environment.value,
        publishable_key=key,
    )


def add_publishable_key(workspace_id: str, key: PublishableKey) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.ADD_PUBLISHABLE_KEY.value,
        issued_at=now_ms(),
        publishable_key=key,
    )


def revoke_publishable_key(workspace_id: str, key_id: str) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.REVOKE_PUBLISHABLE_KEY.value,
        issued_at=now_ms(),
        target_id=key_id,
    )


def put_destination(workspace_id: str, destination: Destination) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.PUT_DESTINATION.value,
        issued_at=now_ms(),
        destination=destination,
    )


def delete_destination(workspace_id: str, destination_id: str) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.DELETE_DESTINATION.value,
        issued_at=now_ms(),
        target_id=destination_id,
    )


def set_log_retention(workspace_id: str, days: int | None) -> WorkspaceCommand:
    """Keep the workspace's delivery log ``days`` days (None: the global setting)."""
    return WorkspaceCommand(
        id=new_id("cmd"),
        workspace_id=workspace_id,
        kind=CommandKind.SET_LOG_RETENTION.value,
        issued_at=now_ms(),
        log_retention_days=days,
    )
