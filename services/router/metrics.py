"""The router's Prometheus counters (served on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from signet.kafka.metrics import KafkaMetrics


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        # Lag and records consumed of the router's group, records produced by topic.
        self.kafka = KafkaMetrics.create(registry)
        self.events_routed = Counter(
            "signet_router_events_routed",
            "Events that produced at least one delivery (acknowledged by the broker).",
            registry=registry,
        )
        self.events_unrouted = Counter(
            "signet_router_events_unrouted",
            "Events that produced no delivery, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events_refused = Counter(
            "signet_router_events_refused",
            "Events produced straight to Kafka that the event-type catalog refused "
            "(dead-lettered), by code: schema, unknown_event_type.",
            ["code"],
            registry=registry,
        )
        self.deliveries_produced = Counter(
            "signet_router_deliveries_produced",
            "Deliveries produced and acknowledged by the broker.",
            registry=registry,
        )
        self.commands_applied = Counter(
            "signet_router_commands_applied",
            "Workspace commands applied to the config table, by kind.",
            ["kind"],
            registry=registry,
        )
        self.commands_duplicate = Counter(
            "signet_router_commands_duplicate",
            "Commands skipped because the snapshot already lists their id (reprocessing).",
            registry=registry,
        )
        self.dead_letters = Counter(
            "signet_router_dead_letters",
            "Records sent to the dead-letter topic, by source (events, commands).",
            ["source"],
            registry=registry,
        )
        self.produce_retries = Counter(
            "signet_router_produce_retries",
            "Writes the broker did not acknowledge and the router tried again.",
            registry=registry,
        )
        self.records_backfilled = Counter(
            "signet_router_records_backfilled",
            "Records Faust fetched but never handed over, read from the broker directly.",
            registry=registry,
        )
        self.workspaces = Gauge(
            "signet_router_workspaces",
            "Workspaces in this worker's shards of the config table.",
            registry=registry,
        )
        for reason in ("unknown_workspace", "no_destination"):
            self.events_unrouted.labels(reason)
        for code in ("schema", "unknown_event_type"):
            self.events_refused.labels(code)
        for source in ("events", "commands"):
            self.dead_letters.labels(source)

    def summary(self) -> str:
        """Counter totals for the log line a stopping worker leaves."""
        counters = {
            "events_routed": self.events_routed,
            "deliveries": self.deliveries_produced,
            "commands_applied": self.commands_applied,
            "dead_letters": self.dead_letters,
        }
        return ", ".join(f"{name}={_total(counter):.0f}" for name, counter in counters.items())


def _total(counter: Counter) -> float:
    return sum(
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
