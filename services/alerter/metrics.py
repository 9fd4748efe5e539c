"""The alerter's Prometheus metrics, on a registry of its own (served at ``/metrics``).

No per-workspace, per-destination or per-channel labels: their number is unbounded.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from signet.kafka.metrics import KafkaMetrics


class AlerterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "signet_alerter_outcomes",
            "Outcomes read, by what became of them "
            "(skipped: not an alert status; no_channel: the workspace has no Slack channel; "
            "alerted: sent at once; folded: held for a storm digest)",
            ["action"],
            registry=self.registry,
        )
        self.alerts_sent = Counter(
            "signet_alerter_alerts_sent",
            "Slack messages Slack accepted, by kind (alert, digest); one per channel",
            ["kind"],
            registry=self.registry,
        )
        self.alerts_failed = Counter(
            "signet_alerter_alerts_failed",
            "Slack messages given up on (and dead-lettered), by kind (alert, digest)",
            ["kind"],
            registry=self.registry,
        )
        self.slack_failures = Counter(
            "signet_alerter_slack_failures",
            "Failed attempts to post to Slack (retried or not), by reason "
            "(rate_limited, server_error, network, rejected, unusable)",
            ["reason"],
            registry=self.registry,
        )
        self.alerts_folded = Counter(
            "signet_alerter_alerts_folded",
            "Alerts folded into a storm digest instead of being sent on their own",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "signet_alerter_dead_letters",
            "Records written to the dead-letter topic, by error type",
            ["error_type"],
            registry=self.registry,
        )
        self.pending_folded = Gauge(
            "signet_alerter_pending_folded",
            "Alerts folded and waiting for their digest",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "signet_alerter_in_flight",
            "Alerts and digests being sent to Slack",
            registry=self.registry,
        )
        self.kafka = KafkaMetrics.create(self.registry)
        # Known label values start at 0: a series that first appears at 1 hides that
        # increase from rate() and increase().
        for action in ("skipped", "no_channel", "alerted", "folded"):
            self.outcomes.labels(action)
        for kind in ("alert", "digest"):
            self.alerts_sent.labels(kind)
            self.alerts_failed.labels(kind)
        for reason in ("rate_limited", "server_error", "network", "rejected", "unusable"):
            self.slack_failures.labels(reason)

    def track(self, *, in_flight: Callable[[], int], pending_folded: Callable[[], int]) -> None:
        self.in_flight.set_function(lambda: float(in_flight()))
        self.pending_folded.set_function(lambda: float(pending_folded()))
