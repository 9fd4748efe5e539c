"""Defaults the docs state without the setting's name ("5 s to connect"), each with the
code it states (:data:`STATED`), and where the default retry schedule is shown
(:data:`SCHEDULE`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from pydantic_settings import BaseSettings
from signet_sdk.signing.base import DEFAULT_TOLERANCE_SECONDS

from services.dispatcher.consumer import DeliveryConsumer
from services.dispatcher.limits import SLOW_SECONDS, STUCK_SECONDS
from services.portal.rotation import DEFAULT_OVERLAP_SECONDS
from services.router.apply import APPLIED_COMMANDS_KEPT
from signet.kafka.compacted_view import FETCH_WAIT_MAX_MS as CONFIG_VIEW_FETCH_WAIT_MAX_MS
from signet.kafka.topics import RETRY_TIERS_SECONDS
from signet.runner import GC_THRESHOLDS
from signet.settings import (
    DEFAULT_RETRY_DELAYS_SECONDS,
    AlerterSettings,
    DevStackSettings,
    DispatcherSettings,
    IngestSettings,
    PortalSettings,
    RouterSettings,
)
from tests.docs.settings_index import code_defaults, numeric_default


def default(cls: type[BaseSettings], field: str) -> object:
    return code_defaults(cls)[field]


@dataclass(slots=True, frozen=True)
class Stated:
    """A phrase of ``doc`` stating, in its groups, values of the code.

    Each group is a quantity ("5 s", "4 KiB", "11", "five") compared in base units
    (seconds, bytes, counts) with the matching entry of ``code``, or text compared as
    it is when the code gives a string. ``about``: the doc rounds ("about 35 hours"),
    so a relative difference up to this is right."""

    doc: str
    pattern: str
    code: Callable[[], tuple[float | str, ...]]
    about: float = 0.0


def port_row(service: str, cls: type[BaseSettings], field: str) -> Stated:
    return Stated(
        "README.md",
        rf"\| `services/{service}` \|[^|\n]*\| (\d+)(?: \(health\))? \|",
        lambda: (numeric_default(cls, field),),
    )


STATED: tuple[Stated, ...] = (
    # docs/delivery.md
    Stated(
        "docs/delivery.md",
        r"Timeouts: (\d+ s) to connect, (\d+ s) in total per attempt by default",
        lambda: (
            numeric_default(DispatcherSettings, "connect_timeout_seconds"),
            numeric_default(DispatcherSettings, "request_timeout_seconds"),
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"The first (\d+ KiB) of the response body",
        lambda: (numeric_default(DispatcherSettings, "response_excerpt_bytes"),),
    ),
    Stated(
        "docs/delivery.md",
        r"attempt `max_attempts` \((\d+) by default\)",
        lambda: (1 + len(DEFAULT_RETRY_DELAYS_SECONDS),),
    ),
    Stated(
        "docs/delivery.md",
        r"So (\d+) attempts over about (\d+ hours)",
        lambda: (1 + len(DEFAULT_RETRY_DELAYS_SECONDS), float(sum(DEFAULT_RETRY_DELAYS_SECONDS))),
        about=0.05,
    ),
    Stated(
        "docs/delivery.md",
        r"\(about (\d+ hours) by default",
        lambda: (float(sum(DEFAULT_RETRY_DELAYS_SECONDS)),),
        about=0.05,
    ),
    Stated(
        "docs/delivery.md",
        r"one poll batch \((\d+)\) per\s+partition",
        lambda: (inspect.signature(DeliveryConsumer.__init__).parameters["batch_size"].default,),
    ),
    Stated(
        "docs/delivery.md",
        r"window — ([\d,]+) retries per second per partition by default",
        lambda: (
            numeric_default(DispatcherSettings, "retry_hold_capacity") / RETRY_TIERS_SECONDS[0],
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"due after the platform schedule's first delay \((\d+ s) ±(\d+ %)\)",
        lambda: (
            float(DEFAULT_RETRY_DELAYS_SECONDS[0]),
            numeric_default(DispatcherSettings, "retry_jitter"),
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"a request running longer than (\d+ s) raises it",
        lambda: (STUCK_SECONDS,),
    ),
    Stated(
        "docs/delivery.md",
        r"\*\*Answer fast\*\* \(well within (\d+ s)\)",
        lambda: (numeric_default(DispatcherSettings, "request_timeout_seconds"),),
    ),
    # docs/workspace-api.md (not edited here: its owner fixes what fails)
    Stated(
        "docs/workspace-api.md",
        r"`overlap_seconds` \(0\u2013\d+, default\s+(\d+)\)",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    Stated(
        "docs/workspace-api.md",
        r"an empty body generates a secret with a (\d+ h) overlap",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    # docs/receiving-webhooks.md
    Stated(
        "docs/receiving-webhooks.md",
        r"within the destination's timeout \((\d+ s) by default\)",
        lambda: (numeric_default(DispatcherSettings, "request_timeout_seconds"),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"for the\s+overlap you chose \((\d+ h) by default\)",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"timestamp is more than \*\*(\d+ minutes)\*\* from your clock",
        lambda: (float(DEFAULT_TOLERANCE_SECONDS),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"as long as retries run: about (\d+ hours) on\s+the default schedule",
        lambda: (float(sum(DEFAULT_RETRY_DELAYS_SECONDS)),),
        about=0.05,
    ),
    # docs/operations.md
    Stated(
        "docs/operations.md",
        r"\| ingest \| `python -m services\.ingest` \| (\d+) `http`",
        lambda: (numeric_default(IngestSettings, "port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| portal \| `python -m services\.portal` \| (\d+) `http`",
        lambda: (numeric_default(PortalSettings, "port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| router \| `python -m services\.router` \| (\d+) `metrics`",
        lambda: (numeric_default(RouterSettings, "web_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| dispatcher \| `python -m services\.dispatcher` \| (\d+) `metrics`",
        lambda: (numeric_default(DispatcherSettings, "metrics_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| alerter \| `python -m services\.alerter` \| (\d+) `metrics`",
        lambda: (numeric_default(AlerterSettings, "metrics_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\((\d+)\) requests open, (\d+) per destination; throughput ≈ in-flight ÷ mean "
        r"latency \((\d+) ÷",
        lambda: (
            numeric_default(DispatcherSettings, "max_in_flight"),
            numeric_default(DispatcherSettings, "max_in_flight_per_destination"),
            numeric_default(DispatcherSettings, "max_in_flight"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"\(`SIGNET_FETCH_WAIT_MAX_MS`\), the config views with (\d+ ms)",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
    Stated(
        "docs/operations.md",
        r"`SIGNET_LOG_CONSUMER_GROUP`\): `([\w.-]+)` \(deliveries and every retry tier\),\s+"
        r"`([\w.-]+)` \(outcomes\), `([\w.-]+)` \(deliveries and outcomes\) and the router's\s+"
        r"Faust group `([\w.-]+)`",
        lambda: (
            str(default(DispatcherSettings, "consumer_group")),
            str(default(AlerterSettings, "consumer_group")),
            str(default(PortalSettings, "log_consumer_group")),
            f"{default(RouterSettings, 'topic_prefix')}router",  # services/router/streams.py
        ),
    ),
    Stated(
        "docs/operations.md",
        r"`signet up` runs every service on its default port \((\d+), (\d+), (\d+), (\d+), "
        r"(\d+)",
        lambda: (
            numeric_default(DevStackSettings, "ingest_port"),
            numeric_default(DevStackSettings, "portal_port"),
            numeric_default(DevStackSettings, "dispatcher_metrics_port"),
            numeric_default(DevStackSettings, "alerter_metrics_port"),
            numeric_default(DevStackSettings, "router_web_port"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"polling of its (\d+) partitions \(deliveries and (\w+)\s+retry tiers, (\d+) each\)",
        lambda: (
            numeric_default(DispatcherSettings, "deliveries_partitions")
            * (1 + len(RETRY_TIERS_SECONDS)),
            len(RETRY_TIERS_SECONDS),
            numeric_default(DispatcherSettings, "deliveries_partitions"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"circuit breaker opens after (\w+) failures",
        lambda: (numeric_default(DispatcherSettings, "breaker_failure_threshold"),),
    ),
    Stated(
        "docs/operations.md",
        r"the\s+(\d+-minute) storm window",
        lambda: (numeric_default(AlerterSettings, "storm_window_seconds"),),
    ),
    # README.md: the services table's port column
    *(
        port_row(service, cls, field)
        for service, cls, field in (
            ("ingest", IngestSettings, "port"),
            ("router", RouterSettings, "web_port"),
            ("dispatcher", DispatcherSettings, "metrics_port"),
            ("portal", PortalSettings, "port"),
            ("alerter", AlerterSettings, "metrics_port"),
        )
    ),
    # docs/getting-started.md: the dev stack's ports
    Stated(
        "docs/getting-started.md",
        r"Port (\d+) or (\d+) taken\?",
        lambda: (
            numeric_default(DevStackSettings, "ingest_port"),
            numeric_default(DevStackSettings, "portal_port"),
        ),
    ),
    Stated(
        "docs/getting-started.md",
        r"`port (\d+) \(ingest port\) is taken`",
        lambda: (numeric_default(DevStackSettings, "ingest_port"),),
    ),
    # docs/benchmarks.md: the defaults the figures were measured at
    Stated(
        "docs/benchmarks.md",
        r"at the dispatcher's per-destination concurrency \((\d+)\)",
        lambda: (numeric_default(DispatcherSettings, "max_in_flight_per_destination"),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"waiting for the destination's (\d+) slots",
        lambda: (numeric_default(DispatcherSettings, "max_in_flight_per_destination"),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"The config views wait (\d+ ms)\s+instead",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
    Stated(
        "docs/benchmarks.md",
        r"collect every ([\d ,]+?)\s+allocations",
        lambda: (float(GC_THRESHOLDS[0]),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"without the (\d+) tier partitions",
        lambda: (
            numeric_default(DispatcherSettings, "deliveries_partitions") * len(RETRY_TIERS_SECONDS),
        ),
    ),
    # docs/architecture.md
    Stated(
        "docs/architecture.md",
        r"an in-memory cache \((\d+ h), bounded\)",
        lambda: (numeric_default(IngestSettings, "idempotency_ttl_seconds"),),
    ),
    Stated(
        "docs/architecture.md",
        r"the snapshot keeps the last (\d+) ids in `applied_commands`",
        lambda: (float(APPLIED_COMMANDS_KEPT),),
    ),
    Stated(
        "docs/architecture.md",
        r"its requests take `SLOW_SECONDS`, (\d+ s), or more",
        lambda: (SLOW_SECONDS,),
    ),
    Stated(
        "docs/architecture.md",
        r"`SIGNET_FETCH_WAIT_MAX_MS` \(\d+ ms\) for the router and the dispatcher, (\d+ ms) "
        r"for the\s+`ConfigView`",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
)


# Where the default retry schedule is shown: the delays (and the spread, if given).
SCHEDULE = {
    "docs/delivery.md": r"^\| delay \(±(?P<spread>[^)]*)\) \|(?P<delays>.*)\|$",
    "docs/receiving-webhooks.md": r"retried: after (?P<delays>[^(]*?) \(±(?P<spread>[^)]*)\)",
    "docs/architecture.md": r"the default delays are (?P<delays>[^(]*?) "
    r"\(`DEFAULT_RETRY_DELAYS_SECONDS`",
}
