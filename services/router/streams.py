"""The Faust adapter: the config table and the two agents. Faust's types stay in here.

- ``workspace-config`` is the changelog topic of a sharded ``Table`` keyed by workspace id
  with raw bytes on both sides: the value is ``codec.encode(WorkspaceConfig)``, exactly
  what every other service's ``ConfigView`` reads. Co-partitioned with ``events`` and
  ``workspace-commands`` (one partition count), so each worker holds the snapshots of
  the workspaces whose events it consumes, and recovers them from the changelog.
- Both agents take batches with ``noack_take`` and ack each event themselves, only after
  the batch handler returned, i.e. after the broker acknowledged everything the batch
  produced. (``take`` would ack the buffered events even when the handler fails or is
  cancelled at shutdown, letting Faust commit offsets of unfinished work.)
- Faust's web server is off: it would serve the table (sealed secrets) under ``/table``,
  and its fixed default port stops a second worker on the machine. Health and metrics
  are served by ``health.py``.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import faust
from faust.tables.manager import TableManager
from faust.types import EventT, StreamT, TableT

from signet.settings import RouterSettings
from signet.topics import Topics

from .source import SourceRecord

BatchHandler = Callable[[Sequence[SourceRecord]], Awaitable[None]]
RAW = "raw"


class TableSnapshots:
    """The config table as a ``SnapshotStore`` (see ``commands.py``)."""

    def __init__(self, table: TableT[bytes, bytes]) -> None:
        self._table = table

    def get(self, key: bytes) -> bytes | None:
        # The store directly: Table.__getitem__ runs sensors per lookup on the hot path.
        return self._table.data.get(key)

    def put(self, key: bytes, value: bytes, partition: int) -> Awaitable[object]:
        # What Table.__setitem__ does, minus its reliance on the "current event" (we
        # process batches) and plus what it hides: the changelog send's future, which
        # resolves when the broker acknowledged the snapshot.
        self._table.data[key] = value
        return cast(Awaitable[object], self._table.send_changelog(partition, key, value))

    def __len__(self) -> int:
        return len(self._table.data)


class RouterStreams:
    """The Faust app of one router worker."""

    def __init__(self, settings: RouterSettings) -> None:
        self._settings = settings
        self._topics = Topics.from_settings(settings)
        # Faust creates only the last path component; a fresh checkout has no .signet/.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            f"{settings.topic_prefix}router",  # the consumer group of every worker
            broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
            broker_credentials=_credentials(settings),
            broker_session_timeout=settings.consumer_session_timeout_seconds,
            broker_heartbeat_interval=max(0.5, settings.consumer_session_timeout_seconds / 4),
            broker_commit_interval=settings.commit_interval_seconds,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            producer_acks=-1,
            datadir=str(settings.data_dir),
            store="memory://",
            key_serializer=RAW,
            value_serializer=RAW,
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            # Topics are created by `signet topics ensure`; the leader topic is unused.
            topic_allow_declare=False,
            topic_disable_leader=True,
            web_enabled=False,
            autodiscover=False,
        )
        self.table = self.app.Table(
            "workspace-config",
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            changelog_topic=self._raw_topic(self._topics.workspace_config),
        )
        self.snapshots = TableSnapshots(self.table)
        self._assigned = False
        self.app.on_partitions_assigned.connect(self._on_assigned)

    def _raw_topic(self, name: str) -> faust.TopicT:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer=RAW,
            value_serializer=RAW,
            partitions=self._settings.partitions,
            # Tombstones reach the agents (and become dead letters) instead of being
            # dropped unacked, which would stall the partition's commits.
            allow_empty=True,
        )

    def attach(self, *, on_commands: BatchHandler, on_events: BatchHandler) -> None:
        """Register the two agents; call once, before :meth:`start`."""
        self._agent("apply-commands", self._topics.workspace_commands, on_commands)
        self._agent("route-events", self._topics.events, on_events)

    def _agent(self, name: str, topic: str, handler: BatchHandler) -> None:
        max_batch = self._settings.batch_max_records
        within = self._settings.batch_wait_seconds

        async def process(stream: StreamT[Any]) -> None:
            batches = cast(faust.Stream[Any], stream).noack_take(max_batch, within)
            async for batch in batches:
                events = cast(Sequence[EventT[Any]], batch)
                await handler([_source(event) for event in events])
                for event in events:
                    await stream.ack(event)

        self.app.agent(self._raw_topic(topic), name=f"{self._settings.topic_prefix}{name}")(process)

    def _on_assigned(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        self._assigned = True

    @property
    def ready(self) -> bool:
        """Partitions assigned and the table recovered from its changelog."""
        recovery = cast(TableManager, self.app.tables).recovery
        return (
            self._assigned
            and not self.app.should_stop
            and recovery.completed.is_set()
            and not recovery.in_recovery
        )

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()


def _source(event: EventT[Any]) -> SourceRecord:
    message = event.message
    return SourceRecord(
        message.topic, message.partition, message.offset, message.key, message.value
    )


def _credentials(settings: RouterSettings) -> faust.types.auth.CredentialsT | None:
    """aiokafka credentials equivalent to the librdkafka settings in ``CommonSettings``."""
    protocol = settings.kafka_security_protocol.upper()
    context: ssl.SSLContext | None = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_location)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=password.get_secret_value() if password else "",
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
