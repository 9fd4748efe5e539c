"""The Faust adapter: the config table and the two agents. Faust's types stay here and in
``transport.py`` (the consumer that commits the sequencer's marks).

- ``workspace-config`` is the changelog topic of a sharded ``Table`` keyed by workspace id
  with raw bytes on both sides: the value is ``codec.encode(WorkspaceConfig)``, exactly
  what every other service's ``ConfigView`` reads. Co-partitioned with ``events`` and
  ``workspace-commands`` (one partition count), so each worker holds the snapshots of
  the workspaces whose events it consumes, and recovers them from the changelog.
- Both agents take batches with ``noack_take``, hand them to the handlers through the
  :class:`~services.router.sequencer.Sequencer`, and ack the events only after the batch
  handler returned. (``take`` would ack the buffered events even when the handler fails
  or is cancelled at shutdown.)
- Faust's web server is off: it would serve the table (sealed secrets) under ``/table``,
  and its fixed default port stops a second worker on the machine. Health and metrics
  are served by ``health.py``.

Why the router commits its own offsets: ``transport.py``, whose consumer commits the
sequencer's marks instead of Faust's record of acked offsets.

Dead clients and stalls
-----------------------
``liveness.py`` restarts a worker whose Faust clients died or stopped making progress;
this module feeds it: each round of the fetch loop is a sign of life (``alive``), a
changelog write or a seek failing for good is reported (``on_dead_client``), and
:meth:`RouterStreams.dead_client` looks into aiokafka's background tasks, which can end
without any call of ours seeing it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import faust
from faust.tables.manager import TableManager
from faust.types import TP, EventT, StreamT, TableT

from signet.kafka.metrics import UNKNOWN, PartitionOffsets
from signet.kafka.topics import Topics
from signet.settings import RouterSettings

from .liveness import dead_client_reason, dead_task_reason
from .sequencer import BatchHandler, ProcessedOffsets
from .source import SourceRecord
from .transport import DeadClientHandler, LogEnds, RouterConsumer, RouterTransport, reported_ends

logger = logging.getLogger(__name__)

RAW = "raw"
# Faust's default, set here because the stall bound below depends on it: the longest a
# join may wait for the group's other members, during which the fetch loop is suspended.
REBALANCE_TIMEOUT_SECONDS = 60.0
# No sign of life this long with the broker reachable is a hang (``liveness.py``): a
# whole rebalance plus table recovery fits well within it.
QUIET_LIMIT_SECONDS = REBALANCE_TIMEOUT_SECONDS + 30.0


class TableSnapshots:
    """The config table as a ``SnapshotStore`` (see ``commands.py``)."""

    def __init__(self, table: TableT[bytes, bytes], on_dead_client: DeadClientHandler) -> None:
        self._table = table
        self._on_dead_client = on_dead_client

    def get(self, key: bytes) -> bytes | None:
        # The store directly: Table.__getitem__ runs sensors per lookup on the hot path.
        return self._table.data.get(key)

    def put(self, key: bytes, value: bytes, partition: int) -> Awaitable[object]:
        # What Table.__setitem__ does, minus its reliance on the "current event" (we
        # process batches) and plus what it hides: the changelog send's future, which
        # resolves when the broker acknowledged the snapshot.
        self._table.data[key] = value
        sent = cast("asyncio.Future[object]", self._table.send_changelog(partition, key, value))
        sent.add_done_callback(self._check_sent)
        return sent

    def _check_sent(self, sent: asyncio.Future[object]) -> None:
        # The command path retries a failed write; one that can never succeed is reported.
        if sent.cancelled() or sent.exception() is None:
            return
        reason = dead_client_reason(cast(BaseException, sent.exception()))
        if reason is not None:
            self._on_dead_client(f"the Faust producer is dead ({reason})")

    def __len__(self) -> int:
        return len(self._table.data)


class RouterStreams:
    """The Faust app of one router worker."""

    def __init__(
        self,
        settings: RouterSettings,
        offsets: ProcessedOffsets,
        *,
        alive: Callable[[], None] = lambda: None,
        on_dead_client: DeadClientHandler = lambda reason: None,
        log_ends: LogEnds = reported_ends,
    ) -> None:
        """``alive`` is called on each round of the fetch loop; ``on_dead_client`` with
        the reason when a Faust client shows it will never work again; ``log_ends`` finds
        where the changelog partitions end before each table recovery."""
        self._settings = settings
        self._offsets = offsets
        self._topics = Topics.from_settings(settings)
        # Faust creates only the last path component; a fresh checkout has no .signet/.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            consumer_group(settings),
            broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
            broker_credentials=_credentials(settings),
            broker_session_timeout=settings.consumer_session_timeout_seconds,
            broker_heartbeat_interval=max(0.5, settings.consumer_session_timeout_seconds / 4),
            broker_rebalance_timeout=REBALANCE_TIMEOUT_SECONDS,
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
        self.app.transport = RouterTransport(
            self.app,
            offsets=offsets,
            fetch_wait_max_ms=settings.fetch_wait_max_ms,
            alive=alive,
            on_dead_client=on_dead_client,
            log_ends=log_ends,
        )
        self.table = self.app.Table(
            "workspace-config",
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            changelog_topic=self._raw_topic(self._topics.workspace_config),
        )
        self.snapshots = TableSnapshots(self.table, on_dead_client)
        self._assigned = False
        self.app.on_partitions_assigned.connect(self._on_assigned)
        self.app.on_partitions_revoked.connect(self._on_revoked)

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

    def _on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Sent once the revoked partitions' batches are acked and their marks committed.
        revoked = cast(set[TP], args[0])
        self._offsets.forget((tp.topic, tp.partition) for tp in revoked)

    def source_offsets(self) -> list[PartitionOffsets]:
        """Each assigned partition of ``events`` and ``workspace-commands``, for the lag.

        The end is the high watermark the last fetch saw; the position is the sequencer's
        next offset to process (records taken and still being routed count as lag), or the
        committed offset before the first batch. Empty until the worker is ready.
        """
        if not self.ready:
            return []
        consumer = self.app.consumer
        sources = {self._topics.events, self._topics.workspace_commands}
        found = []
        try:
            for tp in consumer.assignment():
                if tp.topic not in sources:
                    continue
                high = cast(int | None, consumer.highwater(tp))  # None before a fetch
                position = self._offsets.get((tp.topic, tp.partition))
                if position is None:
                    position = cast(RouterConsumer, consumer)._committed_offset.get(tp)
                found.append(
                    PartitionOffsets(
                        tp.topic,
                        end=UNKNOWN if high is None else high,
                        position=UNKNOWN if position is None else position,
                    )
                )
        except Exception:  # the consumer is being replaced (rebalance, stop): no figure now
            logger.debug("router lag not measured", exc_info=True)
            return []
        return found

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

    def dead_client(self) -> str | None:
        """Which Faust client died in the background, or None.

        aiokafka runs each client's work in tasks: the producer's sender; the consumer's
        group coordination and fetching (on Faust's consumer thread). A task that ended
        while its client is open leaves the client dead, and nothing raises until the
        next call: an idle table may not send for hours. Read through private
        attributes of the pinned versions; a shape they no longer have reads as alive.
        """
        app = self.app
        if not app.started or app.should_stop:
            return None
        try:
            producer = getattr(getattr(app, "_producer", None), "_producer", None)
            if producer is not None and not getattr(producer, "_closed", True):
                sender = getattr(producer, "_sender", None)
                reason = dead_task_reason(
                    "the Faust producer's sender", getattr(sender, "sender_task", None)
                )
                if reason is not None:
                    return reason
            thread = getattr(getattr(app, "_consumer", None), "_thread", None)
            consumer = getattr(thread, "_consumer", None)
            if consumer is not None and getattr(consumer, "_closed", True) is False:
                coordinator = getattr(consumer, "_coordinator", None)
                fetcher = getattr(consumer, "_fetcher", None)
                return dead_task_reason(
                    "the Faust consumer's group coordination",
                    getattr(coordinator, "_coordination_task", None),
                ) or dead_task_reason(
                    "the Faust consumer's fetcher", getattr(fetcher, "_fetch_task", None)
                )
        except Exception:  # a probe, never a cause of failure
            logger.debug("could not inspect Faust's clients", exc_info=True)
        return None

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()


def consumer_group(settings: RouterSettings) -> str:
    """The Faust app id, which is the consumer group of every router worker."""
    return f"{settings.topic_prefix}router"


def _source(event: EventT[Any]) -> SourceRecord:
    message = event.message
    return SourceRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.headers or (),
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
