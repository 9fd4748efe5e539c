"""Platform overview: is Signet up, taking events in, and delivering them?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models

from deploy.grafana.panels import (
    NS,
    RATE,
    SIGNET_JOBS,
    base_dashboard,
    number_panels,
    query,
    stat_panel,
    steps,
    time_series,
)

UID = "signet-overview"

_ATTEMPTS = "signet_dispatcher_attempts_total"


def build() -> models.Dashboard:
    board = (
        base_dashboard(
            UID,
            "Signet / Platform overview",
            "Intake, delivery and the health of every Signet service at a glance.",
        )
        .with_row(dashboard.Row("At a glance"))
        .with_panel(
            stat_panel(
                "Events in",
                "Events ingest accepted (acknowledged by Kafka) per second.",
                "reqps",
                query(
                    f"sum(rate(signet_ingest_events_accepted_total{{{NS}}}[{RATE}]))", "events/s"
                ),
                steps=steps((None, "blue")),
            )
        )
        .with_panel(
            stat_panel(
                "Deliveries",
                "Webhooks delivered (2xx) per second.",
                "reqps",
                query(
                    f'sum(rate({_ATTEMPTS}{{outcome="delivered",{NS}}}[{RATE}]))', "deliveries/s"
                ),
                steps=steps((None, "blue")),
            )
        )
        .with_panel(
            stat_panel(
                "Delivery success rate",
                "Share of delivery attempts answered with a 2xx (retries count as attempts).",
                "percentunit",
                query(
                    f'sum(rate({_ATTEMPTS}{{outcome="delivered",{NS}}}[{RATE}]))'
                    f" / sum(rate({_ATTEMPTS}{{{NS}}}[{RATE}]))",
                    "success",
                ),
                steps=steps((None, "red"), (0.5, "orange"), (0.9, "green")),
            )
        )
        .with_panel(
            stat_panel(
                "Ingest 5xx",
                "Share of ingest requests answered with a server error (events not accepted).",
                "percentunit",
                query(
                    f'sum(rate(signet_ingest_requests_total{{status=~"5..",{NS}}}[{RATE}]))'
                    f" / sum(rate(signet_ingest_requests_total{{{NS}}}[{RATE}]))",
                    "5xx",
                ),
                steps=steps((None, "green"), (0.001, "orange"), (0.01, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Instances up",
                "Scrape targets answering, per service. Red: a service has none.",
                "none",
                query(f"sum by (job) (up{{{SIGNET_JOBS},{NS}}})", "{{job}}"),
                steps=steps((None, "red"), (1, "green")),
                span=24,
            )
        )
        .with_row(dashboard.Row("Intake"))
        .with_panel(
            time_series(
                "Ingest requests by status",
                "HTTP requests answered by ingest, by status code.",
                "reqps",
                query(
                    f"sum by (status) (rate(signet_ingest_requests_total{{{NS}}}[{RATE}]))",
                    "{{status}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            time_series(
                "Ingest latency",
                "Time to answer an event request (p50, p99), including the broker's ack.",
                "s",
                query(
                    "histogram_quantile(0.5, sum by (le) "
                    f"(rate(signet_ingest_request_seconds_bucket{{{NS}}}[{RATE}])))",
                    "p50",
                ),
                query(
                    "histogram_quantile(0.99, sum by (le) "
                    f"(rate(signet_ingest_request_seconds_bucket{{{NS}}}[{RATE}])))",
                    "p99",
                ),
            )
        )
        .with_row(dashboard.Row("Pipeline"))
        .with_panel(
            time_series(
                "Events through the router",
                "Events routed to at least one destination, and events that matched none.",
                "ops",
                query(f"sum(rate(signet_router_events_routed_total{{{NS}}}[{RATE}]))", "routed"),
                query(
                    f"sum by (reason) (rate(signet_router_events_unrouted_total{{{NS}}}[{RATE}]))",
                    "unrouted: {{reason}}",
                ),
            )
        )
        .with_panel(
            time_series(
                "Delivery attempts by outcome",
                "Every attempt the dispatchers made, by outcome.",
                "ops",
                query(
                    f"sum by (outcome) (rate({_ATTEMPTS}{{{NS}}}[{RATE}]))",
                    "{{outcome}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            time_series(
                "Slack alerts",
                "Alerts (and digests) the alerter posted to customers' Slack, and the ones "
                "that failed after all retries.",
                "ops",
                query(f"sum(rate(signet_alerter_alerts_sent_total{{{NS}}}[{RATE}]))", "sent"),
                query(f"sum(rate(signet_alerter_alerts_failed_total{{{NS}}}[{RATE}]))", "failed"),
            )
        )
        .with_panel(
            time_series(
                "Portal requests by status",
                "Operator and workspace API requests answered by the portal.",
                "reqps",
                query(
                    f"sum by (status) (rate(signet_portal_requests_total{{{NS}}}[{RATE}]))",
                    "{{status}}",
                ),
                stacked=True,
            )
        )
        .build()
    )
    return number_panels(board)
