"""The delivery log's Prometheus metrics, on the portal's registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(slots=True, frozen=True)
class LogMetrics:
    records: Counter
    store_retries: Counter
    purged: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> LogMetrics:
        return cls(
            records=Counter(
                "signet_portal_log_records_total",
                "Records the log projection consumed, by kind (delivery, outcome, erasure) "
                "and result (new, duplicate, dead_letter)",
                ["kind", "result"],
                registry=registry,
            ),
            store_retries=Counter(
                "signet_portal_log_store_retries_total",
                "Batches written again because the log database was unavailable",
                registry=registry,
            ),
            purged=Counter(
                "signet_portal_log_purged_rows_total",
                "Rows retention deleted, by table (attempts, deliveries, stats_buckets)",
                ["table"],
                registry=registry,
            ),
        )
