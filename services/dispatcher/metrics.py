"""The dispatcher's Prometheus metrics, on a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.dispatcher.results import AttemptResult
from signet.records import Outcome

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60)
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


class DispatcherMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "signet_dispatcher_attempts",
            "Delivery attempts by outcome and HTTP status class",
            ["outcome", "status_class"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "signet_dispatcher_http_latency_seconds",
            "Time from sending a delivery to reading its response (or failing)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "signet_dispatcher_in_flight",
            "Deliveries taken from Kafka and not yet finished",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "signet_dispatcher_dead_letters",
            "Records moved to the dead-letter topic, by error type",
            ["error_type"],
            registry=self.registry,
        )

        self.retries = Counter(
            "signet_dispatcher_retries",
            "Deliveries put on a retry tier, by tier and why "
            "(failed, circuit_open, busy: deferred without an attempt, hop: moved on)",
            ["tier", "reason"],
            registry=self.registry,
        )
        self.release_lateness = Histogram(
            "signet_dispatcher_retry_release_lateness_seconds",
            "How long after its due time a retry was released for sending",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.held = Gauge(
            "signet_dispatcher_retries_held",
            "Retries read from the tiers and waiting in memory until due",
            registry=self.registry,
        )
        self.paused = Gauge(
            "signet_dispatcher_paused_partitions",
            "Retry-tier partitions paused because their in-memory hold is full",
            registry=self.registry,
        )
        self.pauses = Counter(
            "signet_dispatcher_partition_pauses",
            "Times a retry-tier partition was paused (hold full)",
            registry=self.registry,
        )
        self.circuits_open = Gauge(
            "signet_dispatcher_circuits_open",
            "Destinations whose circuit breaker is open or half-open",
            registry=self.registry,
        )
        self.disabled = Counter(
            "signet_dispatcher_destinations_disabled",
            "Destinations the dispatcher disabled, by cause (gone: HTTP 410; failing)",
            ["cause"],
            registry=self.registry,
        )

    def track_in_flight(self, count: Callable[[], int]) -> None:
        self.in_flight.set_function(lambda: float(count()))

    def observe(self, outcome: Outcome, result: AttemptResult) -> None:
        self.attempts.labels(outcome.status, result.status_class).inc()
        if result.requested and result.latency_ms is not None:
            self.latency.observe(result.latency_ms / 1000)
