"""The command path: workspace commands in, new config snapshots into the table.

For each command: decode it, check it sits on its workspace's partition, apply it to the
current snapshot (``apply.py``), and store the new snapshot, whose changelog record IS the
``workspace-config`` topic every other service reads. A batch returns only once every
snapshot it wrote is acknowledged, so the command offsets are committed after their
effect is durable. A command that cannot apply is a dead letter with the reason.

A destination change the operator's webhook subscribes to is also announced: its
operational delivery (``announce.py``) is produced and acknowledged before the snapshot
is stored, so a change is never applied without its announcement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from signet.errors import CodecError, SignetError
from signet.records import codec
from signet.records.model import WorkspaceCommand, WorkspaceConfig

from .announce import announcements
from .apply import apply_command
from .metrics import RouterMetrics
from .output import RETRY, OutputWriter, OutRecord
from .source import SourceRecord, check_keyed_by_workspace

logger = logging.getLogger(__name__)

SOURCE = "commands"


class SnapshotStore(Protocol):
    """The config table: encoded snapshots by workspace id (the record key)."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, partition: int) -> Awaitable[object]:
        """Store now (later reads see it); the awaitable resolves on the changelog ack."""
        ...


class CommandApplier:
    def __init__(
        self,
        store: SnapshotStore,
        output: OutputWriter,
        metrics: RouterMetrics,
        *,
        partitions: int,
        deliveries_topic: str = "",
        wants: Callable[[str], bool] | None = None,
    ) -> None:
        """``wants(event_type)``: does the operator's webhook take this operational event
        (``OperatorWebhookView.wants``); None announces nothing."""
        self._store = store
        self._output = output
        self._metrics = metrics
        self._partitions = partitions
        self._deliveries_topic = deliveries_topic
        self._wants = wants

    async def apply_batch(self, records: Sequence[SourceRecord]) -> None:
        """Apply in order; return once every snapshot written is acknowledged.

        The batch's announcements are acknowledged *before* its snapshots are stored: a
        crash in between leaves the commands unapplied, so they are applied, and
        announced with the same ids, again; never applied without their announcement.
        """
        # Snapshots are whole: the newest of a workspace covers the older ones in this
        # batch, so only it is stored (and read by the batch's later commands).
        newest: dict[bytes, tuple[int, bytes]] = {}
        applied: list[str] = []
        announced: list[OutRecord] = []
        for record in records:
            try:
                write = self._apply(record, newest, announced)
            except Exception as exc:  # no command may stop the agent
                if not isinstance(exc, SignetError):
                    logger.exception("unexpected error applying %s", _where(record))
                await self._output.dead_letter(record, exc, SOURCE)
                continue
            if write is not None:
                key, value, kind = write
                newest[key] = (record.partition, value)
                applied.append(kind)
        await self._output.send_all(announced)
        written = {
            key: (partition, self._store.put(key, value, partition))
            for key, (partition, value) in newest.items()
        }
        await self._await_written(written)
        for kind in applied:
            self._metrics.commands_applied.labels(kind).inc()

    def _apply(
        self,
        record: SourceRecord,
        newest: dict[bytes, tuple[int, bytes]],
        announced: list[OutRecord],
    ) -> tuple[bytes, bytes, str] | None:
        cmd = codec.decode(record.value, WorkspaceCommand)
        check_keyed_by_workspace(record, cmd.workspace_id, self._partitions)
        key = cmd.workspace_id.encode()
        pending = newest.get(key)
        raw = pending[1] if pending is not None else self._store.get(key)
        try:
            current = codec.decode(raw, WorkspaceConfig) if raw is not None else None
        except CodecError as exc:
            raise CodecError(
                f"the stored snapshot of workspace {cmd.workspace_id} is unreadable ({exc}); "
                "the command cannot apply"
            ) from exc
        config = apply_command(current, cmd)
        if config is current:
            self._metrics.commands_duplicate.inc()
            logger.info("command %s already applied to %s; skipped", cmd.id, cmd.workspace_id)
            return None
        if self._wants is not None:
            announced.extend(
                OutRecord(self._deliveries_topic, codec.encode(d), d.destination_id)
                for d in announcements(current, config, cmd)
                if self._wants(d.event_type)
            )
        return key, codec.encode(config), cmd.kind

    async def _await_written(self, written: dict[bytes, tuple[int, Awaitable[object]]]) -> None:
        """Wait for each workspace's newest snapshot; re-send the newest one on failure."""
        delays = RETRY.delays()
        while written:
            keys = list(written)
            results = await asyncio.gather(*(written[k][1] for k in keys), return_exceptions=True)
            failed = {
                key: written[key][0]
                for key, result in zip(keys, results, strict=True)
                if isinstance(result, BaseException)
            }
            if not failed:
                return
            self._metrics.produce_retries.inc(len(failed))
            logger.warning("%d config snapshots not acknowledged; retrying", len(failed))
            await asyncio.sleep(next(delays))
            written = {}
            for key, partition in failed.items():
                value = self._store.get(key)
                if value is not None:
                    written[key] = (partition, self._store.put(key, value, partition))


def _where(record: SourceRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
