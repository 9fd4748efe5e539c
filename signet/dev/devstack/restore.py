"""Put the previous run's setup back on a new embedded broker, before any service starts.

Every stored record (``snapshot.py``) is produced again verbatim: same topic, key, value,
headers and timestamp, on the partition it came from, idempotently with acks=all, and
:func:`restore_snapshot` returns only once the broker acknowledged all of them. The
services then start on topics that look as the old broker's did after compaction: the
router recovers its config table from ``workspace-config`` and every ``ConfigView`` reads
the same snapshots (same workspace ids, versions and sealed secrets) as before. Each
record is a batch of its own, so the end offset Tansu reports covers all of them (see
``restore_snapshot``).

If a topic's partition count changed since the copy was saved (``SIGNET_PARTITIONS``),
its records go where their key hashes now (murmur2, as the router's Faust producer
would put them), and the log says so. Records of topics this stack does not have (another
``SIGNET_TOPIC_PREFIX``) are skipped, with a warning.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from signet.dev.devstack.snapshot import (
    Snapshot,
    StoredRecord,
    compacted_topics,
    read_snapshot,
    remove_snapshot,
)
from signet.errors import BrokerError, CodecError
from signet.kafka.topics import Topics, kafka_client_config
from signet.records import codec
from signet.records.model import SealedSecret, WorkspaceConfig
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 30.0


@dataclass(slots=True, frozen=True)
class RestoreReport:
    """What a start did with the saved setup; the banner prints :meth:`describe`."""

    path: Path
    fresh: bool = False  # `signet up --fresh`: the saved copy was forgotten
    records: int = 0
    workspaces: int = 0
    destinations: int = 0
    publishable_keys: int = 0  # active ones
    other_topics: dict[str, int] = field(default_factory=dict)  # records per other topic
    skipped: dict[str, int] = field(default_factory=dict)  # topics this stack does not have
    repartitioned: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.fresh:
            return "started fresh (--fresh): no workspaces; changes are kept from now on"
        if not self.records:
            return "nothing to restore (a first start); changes are kept from now on"
        parts = [
            _count(self.workspaces, "workspace", "workspaces"),
            _count(self.destinations, "destination", "destinations"),
            _count(self.publishable_keys, "publishable key", "publishable keys"),
        ]
        parts += [
            _count(n, f"record of {topic}", f"records of {topic}")
            for topic, n in sorted(self.other_topics.items())
        ]
        return f"restored {', '.join(parts)} from the previous run"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def restore_snapshot(
    settings: CommonSettings,
    snapshot: Snapshot,
    path: Path,
    *,
    timeout: float = ACK_TIMEOUT_SECONDS,
) -> RestoreReport:
    """Produce every record of ``snapshot`` again; blocking, returns once all are
    acknowledged. Raises BrokerError when the broker refuses or does not answer."""
    wanted = set(compacted_topics(settings))
    producer = Producer(
        {
            **kafka_client_config(settings),
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",  # the router's (Java-compatible) placement
            "linger.ms": 5,
            # One record a batch: Tansu answers ListOffsets(latest) with the last batch's
            # base offset + 1, so the end of a partition whose last batch held several
            # records is reported short, and the router's table recovery, which reads the
            # changelog up to that end, would stop before the last restored snapshots.
            "batch.num.messages": 1,
        }
    )
    try:
        present = producer.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise BrokerError(f"cannot read the topics' metadata: {exc}") from exc
    skipped: Counter[str] = Counter()
    repartitioned: set[str] = set()
    failures: list[str] = []
    acknowledged = 0

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        nonlocal acknowledged
        if err is None:
            acknowledged += 1
        else:
            failures.append(f"{msg.topic()}: {err.str()}")

    restored: list[StoredRecord] = []
    for record in snapshot.records:
        topic = present.get(record.topic)
        if record.topic not in wanted or topic is None:
            skipped[record.topic] += 1
            continue
        count = len(topic.partitions)
        same_layout = snapshot.partitions.get(record.topic) == count
        if not same_layout:
            repartitioned.add(record.topic)
        options: dict[str, Any] = {"partition": record.partition} if same_layout else {}
        if record.timestamp is not None:
            options["timestamp"] = record.timestamp
        _produce(producer, record, on_delivery, options)
        restored.append(record)
    remaining = producer.flush(timeout)
    if remaining:
        raise BrokerError(
            f"the broker did not acknowledge {remaining} restored records in {timeout}s"
        )
    if failures:
        raise BrokerError(f"restoring the setup failed: {failures[0]} ({len(failures)} records)")
    for topic, n in sorted(skipped.items()):
        logger.warning(
            "skipped %d saved records of %s: this stack has no such compacted topic "
            "(another SIGNET_TOPIC_PREFIX?)",
            n,
            topic,
        )
    for topic in sorted(repartitioned):
        logger.warning(
            "%s had %s partitions when saved and has %d now: its records went where their "
            "keys hash, not to their old partitions",
            topic,
            snapshot.partitions.get(topic, "?"),
            len(present[topic].partitions),
        )
    report = summarize(settings, restored, path)
    return RestoreReport(
        path=path,
        records=acknowledged,
        workspaces=report.workspaces,
        destinations=report.destinations,
        publishable_keys=report.publishable_keys,
        other_topics=report.other_topics,
        skipped=dict(skipped),
        repartitioned=tuple(sorted(repartitioned)),
    )


def _produce(
    producer: Producer, record: StoredRecord, on_delivery: Any, options: dict[str, Any]
) -> None:
    while True:
        try:
            producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers) or None,
                on_delivery=on_delivery,
                **options,
            )
            return
        except BufferError:
            producer.poll(0.1)  # the local queue is full: let acknowledgements drain it


def summarize(settings: CommonSettings, records: list[StoredRecord], path: Path) -> RestoreReport:
    """Count what ``records`` hold: workspaces, destinations and active keys on
    ``workspace-config``, plain record counts on any other compacted topic."""
    config_topic = Topics.from_settings(settings).workspace_config
    workspaces = destinations = keys = 0
    other: Counter[str] = Counter()
    for record in records:
        if record.topic != config_topic:
            other[record.topic] += 1
            continue
        try:
            config = codec.decode(record.value, WorkspaceConfig)
        except CodecError:
            other[record.topic] += 1
            continue
        workspaces += 1
        destinations += len(config.destinations)
        keys += sum(1 for key in config.publishable_keys if key.revoked_at is None)
    return RestoreReport(
        path=path,
        records=len(records),
        workspaces=workspaces,
        destinations=destinations,
        publishable_keys=keys,
        other_topics=dict(other),
    )


def sealed_under_unknown_keys(
    settings: CommonSettings, snapshot: Snapshot, key_ids: set[str]
) -> int:
    """How many sealed secrets of the saved workspaces name a master key the ring does not
    hold: they cannot be opened (``.signet/master_keys`` replaced, or another
    ``SIGNET_MASTER_KEYS``)."""
    config_topic = Topics.from_settings(settings).workspace_config
    unknown = 0
    for record in snapshot.records:
        if record.topic != config_topic:
            continue
        try:
            config = codec.decode(record.value, WorkspaceConfig)
        except CodecError:
            continue
        sealed: list[SealedSecret] = []
        for destination in config.destinations:
            sealed += [secret.sealed for secret in destination.secrets]
            if destination.sealed_url is not None:
                sealed.append(destination.sealed_url)
        unknown += sum(1 for item in sealed if item.key_id not in key_ids)
    return unknown


def restore_setup(
    settings: CommonSettings,
    path: Path,
    *,
    fresh: bool,
    master_key_ids: set[str],
    companions: Sequence[Path] = (),
) -> RestoreReport:
    """The start of a stack on the embedded broker: forget the saved copy (``fresh``) or
    put it back; blocking. A file that cannot be read stops the start
    (``SnapshotFileError``): silently starting empty would lose it at the first save.

    ``companions`` are files that refer to the saved setup (the example host's demo
    workspace, ``services.EMBED_HOST_STATE_FILE``): ``fresh`` forgets them with it, so
    nothing outlives the setup it points into."""
    if fresh:
        if remove_snapshot(path):
            logger.info("--fresh: forgot the saved setup (%s)", path)
        for companion in companions:
            with contextlib.suppress(FileNotFoundError):
                companion.unlink()
                logger.info("--fresh: forgot %s", companion)
        return RestoreReport(path, fresh=True)
    snapshot = read_snapshot(path)
    if snapshot is None:
        return RestoreReport(path)
    report = restore_snapshot(settings, snapshot, path)
    logger.info("%s (%s)", report.describe(), path)
    if unopenable := sealed_under_unknown_keys(settings, snapshot, master_key_ids):
        logger.warning(
            "%d restored secrets were sealed under a master key this stack does not have "
            "(.signet/master_keys replaced, or another SIGNET_MASTER_KEYS): their "
            "destinations cannot sign or deliver; `signet up --fresh` starts over",
            unopenable,
        )
    return report
