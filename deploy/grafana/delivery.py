"""Delivery health: success rate, latency, retries, exhausted deliveries, circuit breakers."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus
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

UID = "signet-delivery"

_ATTEMPTS = "signet_dispatcher_attempts_total"
_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
_MEDIAN_AND_TAIL = (("p50", 0.5), ("p99", 0.99))


def _quantiles(
    histogram: str, quantiles: tuple[tuple[str, float], ...] = _QUANTILES
) -> list[prometheus.Dataquery]:
    return [
        query(
            f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{NS}}}[{RATE}])))",
            label,
        )
        for label, q in quantiles
    ]


def build() -> models.Dashboard:
    board = (
        base_dashboard(
            UID,
            "Signet / Delivery health",
            "How webhook deliveries fare: success, latency, retries, give-ups, breakers.",
        )
        .with_row(dashboard.Row("Now"))
        .with_panel(
            stat_panel(
                "Success rate",
                "Share of delivery attempts answered with a 2xx.",
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
                "Exhausted (1h)",
                "Deliveries that used all their attempts or their max age in the last hour.",
                "short",
                query(f'sum(increase({_ATTEMPTS}{{outcome="exhausted",{NS}}}[1h]))', "exhausted"),
                steps=steps((None, "green"), (1, "orange"), (100, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Open circuit breakers",
                "Destinations whose breaker is open or half-open now: their deliveries go "
                "to a retry tier instead of being sent.",
                "short",
                query(f"sum(signet_dispatcher_circuits_open{{{NS}}})", "open"),
                steps=steps((None, "green"), (1, "orange"), (20, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "In flight",
                "Deliveries taken from Kafka and not finished yet, over all dispatchers.",
                "short",
                query(f"sum(signet_dispatcher_in_flight{{{NS}}})", "in flight"),
                steps=steps((None, "blue")),
            )
        )
        .with_row(dashboard.Row("Outcomes"))
        .with_panel(
            time_series(
                "Success rate",
                "Share of attempts answered with a 2xx.",
                "percentunit",
                query(
                    f'sum(rate({_ATTEMPTS}{{outcome="delivered",{NS}}}[{RATE}]))'
                    f" / sum(rate({_ATTEMPTS}{{{NS}}}[{RATE}]))",
                    "success",
                ),
                minimum=None,
            )
        )
        .with_panel(
            time_series(
                "Attempts by status class",
                "Every attempt by the receiver's status class; none: no HTTP answer "
                "(timeout, refused connection, TLS or DNS error) or no request at all "
                "(an open circuit breaker, a destination gone).",
                "ops",
                query(
                    f"sum by (status_class) (rate({_ATTEMPTS}{{{NS}}}[{RATE}]))",
                    "{{status_class}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            time_series(
                "Exhausted and disabled",
                "Deliveries given up (exhausted) and destinations disabled, by cause (gone: "
                "HTTP 410; failing: failing for days); each one alerts the workspace's Slack.",
                "ops",
                query(f'sum(rate({_ATTEMPTS}{{outcome="exhausted",{NS}}}[{RATE}]))', "exhausted"),
                query(
                    "sum by (cause) "
                    f"(rate(signet_dispatcher_destinations_disabled_total{{{NS}}}[{RATE}]))",
                    "disabled: {{cause}}",
                ),
            )
        )
        .with_panel(
            time_series(
                "Retries scheduled by tier",
                "Deliveries put on a retry delay topic, by tier (5s, 30s, 2m, ...); moves "
                "from one tier to the next (hops) are left out.",
                "ops",
                query(
                    "sum by (tier) "
                    f'(rate(signet_dispatcher_retries_total{{reason!="hop",{NS}}}[{RATE}]))',
                    "{{tier}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            time_series(
                "Retries by reason",
                "Why deliveries went to a retry tier: failed (an attempt failed), "
                "circuit_open (the destination's breaker is open), busy (its in-flight cap "
                "was reached, no attempt made), hop (moved on to the next tier).",
                "ops",
                query(
                    f"sum by (reason) (rate(signet_dispatcher_retries_total{{{NS}}}[{RATE}]))",
                    "{{reason}}",
                ),
                stacked=True,
            )
        )
        .with_panel(
            time_series(
                "Retry release lateness",
                "How long after its due time a retry was released for sending (p50, p99). "
                "Retries are never sent early; a growing lateness means the tiers lag.",
                "s",
                *_quantiles("signet_dispatcher_retry_release_lateness_seconds", _MEDIAN_AND_TAIL),
            )
        )
        .with_row(dashboard.Row("Latency"))
        .with_panel(
            time_series(
                "Receiver HTTP latency",
                "From sending a delivery to reading its response (or failing).",
                "s",
                *_quantiles("signet_dispatcher_http_latency_seconds"),
            )
        )
        .with_panel(
            time_series(
                "End-to-end latency",
                "From the event's creation to its successful delivery, retries included.",
                "s",
                *_quantiles("signet_dispatcher_end_to_end_seconds"),
            )
        )
        .with_row(dashboard.Row("Pressure"))
        .with_panel(
            time_series(
                "Open circuit breakers",
                "Destinations with an open or half-open breaker, per dispatcher instance.",
                "short",
                query(
                    f"sum by (instance) (signet_dispatcher_circuits_open{{{NS}}})",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            time_series(
                "In flight per dispatcher",
                "Deliveries in progress per instance (bounded by SIGNET_MAX_IN_FLIGHT).",
                "short",
                query(f"sum by (instance) (signet_dispatcher_in_flight{{{NS}}})", "{{instance}}"),
            )
        )
        .with_panel(
            time_series(
                "Retries held in memory",
                "Retries read from the tiers and waiting until due, and retry-tier "
                "partitions paused because that hold is full.",
                "short",
                query(f"sum(signet_dispatcher_retries_held{{{NS}}})", "held"),
                query(f"sum(signet_dispatcher_paused_partitions{{{NS}}})", "paused partitions"),
            )
        )
        .build()
    )
    return number_panels(board)
