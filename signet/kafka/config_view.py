"""An in-memory view of every workspace's configuration, followed from Kafka.

The router is the only writer of ``workspace-config`` (its Faust table changelog). Every
other service reads all partitions from the beginning and follows them, keeping the
newest snapshot per workspace, plus the indexes its hot path needs (publishable-key hash
→ workspace, destination id → workspace). ``wait_for`` gives the portal read-your-writes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from signet.errors import CodecError
from signet.kafka.compacted_view import CompactedView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Destination, PublishableKey, WorkspaceConfig
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class KeyMatch:
    workspace_id: str
    key: PublishableKey


class ConfigView(CompactedView):
    """Follows ``workspace-config`` in a background thread; read from the event loop."""

    name = "config view"

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        super().__init__(
            settings, Topics.from_settings(settings).workspace_config, poll_seconds=poll_seconds
        )
        self._workspaces: dict[str, WorkspaceConfig] = {}
        self._keys: dict[str, KeyMatch] = {}
        self._destinations: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- reads -------------------------------------------------------------------------

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None:
        return self._workspaces.get(workspace_id)

    def workspaces(self) -> list[WorkspaceConfig]:
        return list(self._workspaces.values())

    def key_by_hash(self, sha256_hex: str) -> KeyMatch | None:
        return self._keys.get(sha256_hex)

    def destination(self, destination_id: str) -> tuple[WorkspaceConfig, Destination] | None:
        workspace_id = self._destinations.get(destination_id)
        config = self._workspaces.get(workspace_id) if workspace_id else None
        found = config.destination(destination_id) if config else None
        return (config, found) if config and found else None

    async def wait_for_command(self, workspace_id: str, command_id: str, timeout: float) -> bool:
        def applied() -> bool:
            config = self._workspaces.get(workspace_id)
            return config is not None and command_id in config.applied_commands

        return await self.wait_for(applied, timeout)

    # -- the follower thread -----------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # tombstone: the workspace was deleted
            workspace_id = key.decode() if key else ""
            with self._lock:
                self._unindex(workspace_id)
                self._workspaces.pop(workspace_id, None)
            return
        try:
            config = codec.decode(value, WorkspaceConfig)
        except CodecError as exc:
            self.undecodable += 1
            logger.error("config view: skipped an undecodable snapshot: %s", exc)
            return
        with self._lock:
            current = self._workspaces.get(config.workspace_id)
            if current is not None and current.version >= config.version:
                return  # an older snapshot replayed from the log
            self._unindex(config.workspace_id)
            self._workspaces[config.workspace_id] = config
            for key_record in config.publishable_keys:
                self._keys[key_record.sha256] = KeyMatch(config.workspace_id, key_record)
            for destination in config.destinations:
                self._destinations[destination.id] = config.workspace_id

    def _unindex(self, workspace_id: str) -> None:
        old = self._workspaces.get(workspace_id)
        if old is None:
            return
        for key_record in old.publishable_keys:
            self._keys.pop(key_record.sha256, None)
        for destination in old.destinations:
            self._destinations.pop(destination.id, None)
