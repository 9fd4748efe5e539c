"""The dispatcher's Prometheus metrics, on a registry of its own (served at ``/metrics``).

End-to-end latency runs from the event's creation (``event_created_at``, the emitter's
clock) to the 2xx answer, across every retry in between, so its buckets reach from
10 ms to two days (the default schedule gives up after about 35 hours). Replays are
left out: their event was created long before anyone asked for them again.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.dispatcher.results import AttemptResult
from signet.kafka.metrics import KafkaMetrics
from signet.records.model import Outcome, OutcomeStatus

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60)
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
_MINUTE, _HOUR = 60, 3600
END_TO_END_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    *(_MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 30 * _MINUTE),
    *(_HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, 24 * _HOUR, 48 * _HOUR),
)


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
        self.end_to_end = Histogram(
            "signet_dispatcher_end_to_end_seconds",
            "Time from an event's creation to its delivery's 2xx answer, retries included "
            "(replays not counted)",
            buckets=END_TO_END_BUCKETS,
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
        self.fifo_held = Gauge(
            "signet_dispatcher_fifo_held",
            "FIFO hold-topic records waiting in memory in their lines",
            registry=self.registry,
        )
        self.fifo_held_peak = Gauge(
            "signet_dispatcher_fifo_held_peak",
            "The most FIFO hold-topic records one partition has had in memory since start "
            "(at most SIGNET_FIFO_HELD_IN_MEMORY)",
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
        self.kafka = KafkaMetrics.create(self.registry)
        for cause in ("gone", "failing"):  # from 0, so the first one shows in increase()
            self.disabled.labels(cause)

    def track_in_flight(self, count: Callable[[], int]) -> None:
        self.in_flight.set_function(lambda: float(count()))

    def track_fifo_held(self, held: Callable[[], int], peak: Callable[[], int]) -> None:
        self.fifo_held.set_function(lambda: float(held()))
        self.fifo_held_peak.set_function(lambda: float(peak()))

    def observe(self, outcome: Outcome, result: AttemptResult) -> None:
        self.attempts.labels(outcome.status, result.status_class).inc()
        if result.requested and result.latency_ms is not None:
            self.latency.observe(result.latency_ms / 1000)
            if outcome.status == OutcomeStatus.DELIVERED and outcome.replay_of is None:
                self._observe_end_to_end(outcome, result.latency_ms)

    def _observe_end_to_end(self, outcome: Outcome, latency_ms: float) -> None:
        if outcome.event_created_at <= 0:
            return  # not known
        # attempted_at is when the request left; the answer was read latency_ms later.
        answered_at = outcome.attempted_at + latency_ms
        # The emitter's clock may run ahead of ours: never a negative duration.
        self.end_to_end.observe(max(0.0, answered_at - outcome.event_created_at) / 1000)
