"""Kafka lag and throughput: how far each consumer group is behind, what flows where."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models

from deploy.grafana.panels import (
    NS,
    RATE,
    base_dashboard,
    number_panels,
    query,
    stat_panel,
    steps,
    time_series,
)

UID = "signet-kafka"

# Retry tiers hold records until they are due, so their lag is the schedule, not a backlog.
_NOT_RETRY = 'topic!~".*retry\\\\..*"'
_RETRY = 'topic=~".*retry\\\\..*"'


def build() -> models.Dashboard:
    board = (
        base_dashboard(
            UID,
            "Signet / Kafka lag and throughput",
            "Consumer lag per group and topic, and the records flowing through each topic.",
        )
        .with_row(dashboard.Row("Lag"))
        .with_panel(
            stat_panel(
                "Largest backlog",
                "The largest lag of any consumer group on a non-retry topic, in records.",
                "short",
                query(
                    f"max(sum by (group, topic) (signet_kafka_consumer_lag{{{_NOT_RETRY},{NS}}}))",
                    "lag",
                ),
                steps=steps((None, "green"), (1000, "orange"), (100000, "red")),
                span=8,
            )
        )
        .with_panel(
            stat_panel(
                "Retries held",
                "Retries the dispatchers read from the delay topics and hold in memory "
                "until due (the tiers' lag, below, is what they have not read yet).",
                "short",
                query(f"sum(signet_dispatcher_retries_held{{{NS}}})", "held"),
                steps=steps((None, "blue")),
                span=8,
            )
        )
        .with_panel(
            stat_panel(
                "Dead letters (1h)",
                "Records any service sent to the dead-letter topic in the last hour.",
                "short",
                query(
                    f'sum(increase({{__name__=~"signet_.+_dead_letters_total",{NS}}}[1h]))',
                    "dead letters",
                ),
                steps=steps((None, "green"), (1, "red")),
                span=8,
            )
        )
        .with_panel(
            time_series(
                "Consumer lag by group and topic",
                "Records written to a topic and not yet consumed by the group.",
                "short",
                query(
                    f"sum by (group, topic) (signet_kafka_consumer_lag{{{_NOT_RETRY},{NS}}})",
                    "{{group}} / {{topic}}",
                ),
                span=24,
            )
        )
        .with_panel(
            time_series(
                "Retry tiers: lag",
                "Records in each retry delay topic the dispatchers have not read yet.",
                "short",
                query(
                    f"sum by (topic) (signet_kafka_consumer_lag{{{_RETRY},{NS}}})",
                    "{{topic}}",
                ),
                stacked=True,
                span=24,
            )
        )
        .with_row(dashboard.Row("Throughput"))
        .with_panel(
            time_series(
                "Records consumed by topic",
                "Records Signet's consumers read per second, by topic.",
                "ops",
                query(
                    f"sum by (topic) (rate(signet_kafka_records_consumed_total{{{NS}}}[{RATE}]))",
                    "{{topic}}",
                ),
            )
        )
        .with_panel(
            time_series(
                "Records produced by topic",
                "Records Signet's producers wrote per second (acknowledged), by topic.",
                "ops",
                query(
                    f"sum by (topic) (rate(signet_kafka_records_produced_total{{{NS}}}[{RATE}]))",
                    "{{topic}}",
                ),
            )
        )
        .with_panel(
            time_series(
                "Pipeline flow",
                "The same flow seen from the services' own counters: events accepted by "
                "ingest (into events), events the router consumed, deliveries it produced, "
                "attempts the dispatchers made (each one writes an outcome).",
                "ops",
                query(f"sum(rate(signet_ingest_events_accepted_total{{{NS}}}[{RATE}]))", "ingest"),
                query(
                    f"sum(rate(signet_router_events_routed_total{{{NS}}}[{RATE}]))"
                    f" + sum(rate(signet_router_events_unrouted_total{{{NS}}}[{RATE}]))",
                    "router in",
                ),
                query(
                    f"sum(rate(signet_router_deliveries_produced_total{{{NS}}}[{RATE}]))",
                    "deliveries out",
                ),
                query(
                    f"sum(rate(signet_dispatcher_attempts_total{{{NS}}}[{RATE}]))",
                    "attempts / outcomes",
                ),
            )
        )
        .with_panel(
            time_series(
                "Dead letters by service",
                "Records sent to the dead-letter topic, by the service that gave up on them.",
                "ops",
                query(
                    "sum by (job) "
                    f'(rate({{__name__=~"signet_.+_dead_letters_total",{NS}}}[{RATE}]))',
                    "{{job}}",
                ),
            )
        )
        .build()
    )
    return number_panels(board)
