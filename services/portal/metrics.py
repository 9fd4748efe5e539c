"""The portal's Prometheus metrics, on a registry of its own (one per app instance)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from signet.kafka.metrics import KafkaMetrics


@dataclass(slots=True, frozen=True)
class PortalMetrics:
    registry: CollectorRegistry
    requests: Counter
    commands: Counter
    command_seconds: Histogram
    kafka: KafkaMetrics  # the producer's, and the delivery-log projection's consumer

    @classmethod
    def create(cls) -> PortalMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "signet_portal_requests_total",
                "HTTP requests answered, by route and status",
                ["method", "route", "status"],
                registry=registry,
            ),
            commands=Counter(
                "signet_portal_commands_total",
                "Workspace commands submitted, by kind and result (applied, timeout, broker_error)",
                ["kind", "result"],
                registry=registry,
            ),
            command_seconds=Histogram(
                "signet_portal_command_seconds",
                "Time from producing a command to seeing it applied in the config view",
                buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            kafka=KafkaMetrics.create(registry),
        )
