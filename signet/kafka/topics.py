"""Topic names, partition counts and cleanup policies; ``ensure_topics`` creates them.

Every topic name used anywhere comes from :class:`Topics`; no service spells one out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from signet.errors import BrokerError
from signet.settings import FIFO_HOLD_RETENTION_DAYS, CommonSettings

DAY_MS = 24 * 3600 * 1000

# Delay tiers of the default retry schedule (docs/architecture.md#retry-tiers); the
# schedule repeats 12h.
RETRY_TIERS_SECONDS: tuple[int, ...] = (5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200)

# Every outcome record carries its status (``OutcomeStatus`` value, UTF-8) in this header,
# so a consumer that wants only some statuses skips the rest without decoding them. The
# record stays the truth: a record without the header is decoded and judged by its body.
OUTCOME_STATUS_HEADER = "signet-status"


def outcome_headers(status: str) -> list[tuple[str, str | bytes | None]]:
    """The headers an outcome record is written with."""
    return [(OUTCOME_STATUS_HEADER, status.encode())]


def tier_label(seconds: int) -> str:
    """``5s``, ``2m``, ``1h``: the suffix of a retry topic."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclass(slots=True, frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Topics:
    """Names of every Signet topic under one prefix (``signet.`` by default)."""

    prefix: str = "signet."

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def workspace_commands(self) -> str:
        return f"{self.prefix}workspace-commands"

    @property
    def workspace_config(self) -> str:
        return f"{self.prefix}workspace-config"

    @property
    def event_types(self) -> str:
        """The event-type catalog (``signet.catalog``): compacted, keyed by type name."""
        return f"{self.prefix}event-types"

    @property
    def deliveries(self) -> str:
        return f"{self.prefix}deliveries"

    @property
    def outcomes(self) -> str:
        return f"{self.prefix}outcomes"

    @property
    def payload_erasures(self) -> str:
        return f"{self.prefix}payload-erasures"

    @property
    def operator_webhook(self) -> str:
        return f"{self.prefix}operator-webhook"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    @property
    def fifo_hold(self) -> str:
        """FIFO destinations' deliveries waiting behind a failing one (dispatcher/fifo.py)."""
        return f"{self.prefix}fifo-hold"

    @property
    def fifo_lines(self) -> str:
        """Where each FIFO destination's line stands (compacted, keyed by destination id)."""
        return f"{self.prefix}fifo-lines"

    def retry(self, delay_seconds: int) -> str:
        return f"{self.prefix}retry.{tier_label(delay_seconds)}"

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> Topics:
        return cls(settings.topic_prefix)


def topic_specs(settings: CommonSettings) -> list[TopicSpec]:
    """Every topic Signet needs, with its partition count and policy
    (docs/architecture.md#topics)."""
    t = Topics.from_settings(settings)
    keyed, fanout = settings.partitions, settings.deliveries_partitions

    def delete(days: int) -> dict[str, str]:
        return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}

    specs = [
        TopicSpec(t.events, keyed, delete(7)),
        TopicSpec(t.workspace_commands, keyed, delete(7)),
        TopicSpec(t.workspace_config, keyed, {"cleanup.policy": "compact"}),
        # One partition: a catalog is small, and its order is one order.
        TopicSpec(t.event_types, 1, {"cleanup.policy": "compact"}),
        TopicSpec(t.deliveries, fanout, delete(7)),
        TopicSpec(t.outcomes, keyed, delete(30)),
        TopicSpec(t.dlq, keyed, delete(30)),
        # Kept as long as any topic the log projection could re-read an erased payload from.
        TopicSpec(t.payload_erasures, keyed, delete(30)),
        # One key (signet/operator_webhook/): one partition keeps it in order.
        TopicSpec(t.operator_webhook, 1, {"cleanup.policy": "compact"}),
    ]
    specs += [TopicSpec(t.retry(s), fanout, delete(7)) for s in RETRY_TIERS_SECONDS]
    # Ordered delivery (services/dispatcher/fifo.py): the hold topic is partitioned like
    # deliveries, so the dispatcher that owns a destination's deliveries owns its line.
    specs += [
        TopicSpec(t.fifo_hold, fanout, delete(FIFO_HOLD_RETENTION_DAYS)),
        TopicSpec(t.fifo_lines, keyed, {"cleanup.policy": "compact"}),
    ]
    return specs


def kafka_client_config(settings: CommonSettings) -> dict[str, Any]:
    """librdkafka settings shared by every client: bootstrap and security."""
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = settings.kafka_sasl_username or ""
        password = settings.kafka_sasl_password
        conf["sasl.password"] = password.get_secret_value() if password else ""
    if settings.kafka_ssl_ca_location:
        conf["ssl.ca.location"] = settings.kafka_ssl_ca_location
    return conf


def consumer_client_config(settings: CommonSettings) -> dict[str, Any]:
    """``kafka_client_config`` plus the bound on what a consumer fetches ahead.

    librdkafka keeps fetching until 100 000 records or 64 MiB wait in its queue: under a
    backlog every consumer of a service would hold that much. A few MiB keep the fetcher
    thousands of records ahead of any of our consumers.
    """
    return {
        **kafka_client_config(settings),
        "queued.max.messages.kbytes": settings.consumer_prefetch_kbytes,
        "queued.min.messages": 10_000,
    }


def group_consumer_config(
    settings: CommonSettings, group: str, session_timeout_seconds: float
) -> dict[str, Any]:
    """A member of consumer group ``group`` that commits by hand and starts at the
    earliest record: the shared base of the services' group consumers."""
    session_ms = int(session_timeout_seconds * 1000)
    return {
        **consumer_client_config(settings),
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
    }


# For consumers off a delivery's way to its receiver (the delivery log, the alerter):
# fewer, fuller fetches. A fetch waits for 64 KiB or 200 ms, whichever comes first; on the
# dispatcher's consumer the same cut its CPU and the broker's per delivery by a tenth and
# more, but added up to the wait to every delivery (docs/benchmarks.md).
BATCHING_FETCH: dict[str, Any] = {"fetch.min.bytes": 65_536, "fetch.wait.max.ms": 200}


@dataclass(slots=True)
class EnsureReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    partition_mismatch: dict[str, tuple[int, int]] = field(default_factory=dict)


def ensure_topics(settings: CommonSettings, *, timeout: float = 30.0) -> EnsureReport:
    """Create missing topics; report existing ones and any partition-count mismatch.

    Idempotent: running it twice creates nothing the second time.
    """
    admin = AdminClient(kafka_client_config(settings))
    specs = topic_specs(settings)
    report = EnsureReport()
    try:
        present = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise BrokerError(f"cannot list topics at {settings.kafka_bootstrap}: {exc}") from exc
    missing = [s for s in specs if s.name not in present]
    for spec in specs:
        if spec.name in present:
            report.existing.append(spec.name)
            actual = len(present[spec.name].partitions)
            if actual != spec.partitions:
                report.partition_mismatch[spec.name] = (spec.partitions, actual)
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(s.name, s.partitions, settings.replication_factor, config=s.config)
                for s in missing
            ],
            request_timeout=timeout,
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                report.created.append(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise BrokerError(f"cannot create topic {name}: {exc}") from exc
                report.existing.append(name)
    return report
