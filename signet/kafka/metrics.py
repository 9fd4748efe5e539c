"""Kafka metrics every service exports: consumer lag, records consumed, records produced.

``KafkaMetrics`` puts the three families on a service's registry, once. The service hands
it to its ``AsyncProducer`` (records acknowledged, by topic) and builds a
``ConsumerMeter`` for each consumer group it reads in:

- ``signet_kafka_consumer_lag{group, topic}``: over the partitions this consumer is
  assigned, the sum of (high watermark - position), the records on the broker not yet
  handed to the application. Each replica reports its own partitions only, so
  ``sum by (group, topic)`` over replicas is the group's lag. Records taken and still
  being worked on are not lag (the services' in-flight gauges show them).
- ``signet_kafka_records_consumed_total{group, topic}``: records handed to the application.
- ``signet_kafka_records_produced_total{topic}``: records the broker acknowledged.
- ``signet_kafka_records_not_redone_total{group}``: records read again after a rebalance
  that this member had completed but not committed, and skipped (``signet/kafka/offsets.py``).
- ``signet_kafka_client_replacements_total{client}`` and ``signet_kafka_broker_reachable``:
  see ``signet/kafka/health.py``.

Where the lag comes from: librdkafka's statistics. Every ``statistics.interval.ms`` its
own thread writes down what it already knows of each partition (the high watermark and
last stable offset every fetch response carries, the application's position, the
committed offset) and ``consume``/``poll`` hand that to ``stats_cb`` on the consumer's
thread: no request to the broker, nothing on the event loop, well under a millisecond of
JSON per interval for sixty partitions. ``position()`` with
``get_watermark_offsets(cached=True)`` reads the same cached numbers, but a partition the
application has not read a record from since its assignment (an idle retry tier) has no
position, and filling that gap would take a ``committed()`` request to the broker every
interval; the statistics carry the committed offset already.

Known limits: a paused partition is not fetched, so its high watermark is the one its
last fetch saw (the dispatcher pauses a retry tier whose hold is full, the alerter pauses
while Slack is saturated); and a consumer that stops polling stops reporting.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Message
from prometheus_client import CollectorRegistry, Counter, Gauge

logger = logging.getLogger(__name__)

UNKNOWN = -1001  # librdkafka's RD_KAFKA_OFFSET_INVALID: not known (yet)
_EARLIEST = frozenset({"earliest", "smallest", "beginning"})


@dataclass(slots=True, frozen=True)
class KafkaMetrics:
    """The Kafka families of one service's registry (create once per registry)."""

    consumer_lag: Gauge
    consumed: Counter
    produced: Counter
    replacements: Counter
    broker_reachable: Gauge
    not_redone: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> KafkaMetrics:
        return cls(
            consumer_lag=Gauge(
                "signet_kafka_consumer_lag",
                "Records not yet read by this consumer on the partitions it is assigned "
                "(high watermark - position, summed per topic)",
                ["group", "topic"],
                registry=registry,
            ),
            consumed=Counter(
                "signet_kafka_records_consumed",
                "Records handed to the application by the consumer of a group",
                ["group", "topic"],
                registry=registry,
            ),
            produced=Counter(
                "signet_kafka_records_produced",
                "Records written and acknowledged by the broker",
                ["topic"],
                registry=registry,
            ),
            replacements=Counter(
                "signet_kafka_client_replacements",
                "Kafka clients replaced after a fatal error (a fenced producer, ...)",
                ["client"],
                registry=registry,
            ),
            not_redone=Counter(
                "signet_kafka_records_not_redone",
                "Records a consumer got again after its partitions came back (a rebalance "
                "after a broker stall) and skipped: it had completed them, not committed them",
                ["group"],
                registry=registry,
            ),
            broker_reachable=Gauge(
                "signet_kafka_broker_reachable",
                "1 while the broker answers this process's metadata probe, 0 while not",
                registry=registry,
            ),
        )


# -- the arithmetic (pure) -------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class PartitionOffsets:
    """What the consumer knows of one assigned partition; ``UNKNOWN`` where it does not.

    ``end`` is the offset after the last record the consumer may read: the high
    watermark, or the last stable offset under ``isolation.level=read_committed``.
    ``position`` is the offset after the last record handed to the application.
    """

    topic: str
    end: int
    position: int
    committed: int = UNKNOWN
    low: int = UNKNOWN


def partition_lag(offsets: PartitionOffsets, *, from_earliest: bool = True) -> int | None:
    """Records of the partition past the consumer's position; None when not known.

    Before the application got a record from the partition, its position is where the
    consumer will start: the committed offset, or else where ``auto.offset.reset`` says
    (``from_earliest``: the low watermark; otherwise the end).
    """
    if offsets.end < 0:
        return None
    if offsets.position >= 0:
        start = offsets.position
    elif offsets.committed >= 0:
        start = offsets.committed
    else:
        start = offsets.low if from_earliest else offsets.end
        if start < 0:
            return None
    return max(0, offsets.end - start)


def lag_by_topic(
    partitions: Iterable[PartitionOffsets], *, from_earliest: bool = True
) -> dict[str, int]:
    """Lag per topic: the sum over its partitions whose lag is known.

    A topic none of whose partitions is known is left out (no series beats a wrong zero).
    """
    lags: dict[str, int] = {}
    for offsets in partitions:
        lag = partition_lag(offsets, from_earliest=from_earliest)
        if lag is not None:
            lags[offsets.topic] = lags.get(offsets.topic, 0) + lag
    return lags


def assigned_partitions(
    statistics: Mapping[str, Any], *, read_committed: bool = True
) -> list[PartitionOffsets]:
    """The assigned partitions in librdkafka's statistics (STATISTICS.md: ``topics``)."""
    end_field = "ls_offset" if read_committed else "hi_offset"
    found = []
    for topic, about in statistics.get("topics", {}).items():
        for partition, p in about.get("partitions", {}).items():
            # "-1" is librdkafka's internal unassigned-partition queue; "desired": assigned.
            if partition == "-1" or not p.get("desired") or p.get("unknown"):
                continue
            found.append(
                PartitionOffsets(
                    topic=topic,
                    end=int(p.get(end_field, UNKNOWN)),
                    position=int(p.get("app_offset", UNKNOWN)),
                    committed=int(p.get("committed_offset", UNKNOWN)),
                    low=int(p.get("lo_offset", UNKNOWN)),
                )
            )
    return found


# -- one consumer ----------------------------------------------------------------------


class ConsumerMeter:
    """Lag and records consumed of one confluent-kafka consumer, labelled by its group.

    Build the consumer from :attr:`consumer_config` (its ``stats_cb`` feeds the lag), call
    :meth:`count` with what each ``consume``/``poll`` returned, and :meth:`close` after
    closing the consumer (its lag series go away with it). A consumer of another client
    (the router's Faust consumer) feeds :meth:`add` and :meth:`update` itself.
    """

    def __init__(
        self, metrics: KafkaMetrics, conf: Mapping[str, Any], *, interval_seconds: float
    ) -> None:
        self.group = str(conf["group.id"])
        self._metrics = metrics
        self._from_earliest = str(conf.get("auto.offset.reset", "latest")) in _EARLIEST
        self._read_committed = conf.get("isolation.level", "read_committed") == "read_committed"
        self.consumer_config: dict[str, Any] = {
            **conf,
            "statistics.interval.ms": max(1, round(interval_seconds * 1000)),
            "stats_cb": self._on_statistics,
        }
        self._consumed: dict[str, Counter] = {}
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._failed = False

    def count(self, messages: Iterable[Message | None]) -> None:
        """Count the records of one poll (errors and ``None`` are not records)."""
        by_topic = collections.Counter(
            msg.topic() or "" for msg in messages if msg is not None and msg.error() is None
        )
        for topic, n in by_topic.items():
            self.add(topic, n)

    def add(self, topic: str, records: int) -> None:
        """``records`` of ``topic`` handed to the application (clients other than librdkafka)."""
        counter = self._consumed.get(topic)
        if counter is None:
            counter = self._consumed[topic] = self._metrics.consumed.labels(self.group, topic)
        counter.inc(records)

    def update(self, lags: Mapping[str, int]) -> None:
        """Publish lag per topic; topics this consumer no longer reads lose their series."""
        gauge = self._metrics.consumer_lag
        with self._lock:
            for topic, lag in lags.items():
                gauge.labels(self.group, topic).set(lag)
            for gone in self._reported - lags.keys():
                gauge.remove(self.group, gone)
            self._reported = set(lags)

    def close(self) -> None:
        """The consumer is closed: its lag is nobody's now."""
        self.update({})

    def _on_statistics(self, text: str) -> None:
        # Called inside consume()/poll(): an exception here would surface from there.
        try:
            statistics = orjson.loads(text)
            if statistics.get("type") != "consumer":
                return
            partitions = assigned_partitions(statistics, read_committed=self._read_committed)
            self.update(lag_by_topic(partitions, from_earliest=self._from_earliest))
        except Exception:  # a metric must never stop consumption
            if not self._failed:
                logger.warning("consumer lag of %s not measured", self.group, exc_info=True)
            self._failed = True
