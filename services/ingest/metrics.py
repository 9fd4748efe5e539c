"""Prometheus metrics of one ingest process, on its own registry (served at ``/metrics``).

A registry per app, not the global one, so several apps in one process (tests) do not
collide. Labels are bounded: the route template (``other`` for unknown paths) and the
status code.
"""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from signet.kafka.metrics import KafkaMetrics
from signet.web import Handler, answered

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "signet_ingest_requests",
            "HTTP requests answered, by route template and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "signet_ingest_requests_in_flight",
            "HTTP requests being handled now",
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "signet_ingest_request_seconds",
            "Time to answer an event request, by route template",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_accepted = Counter(
            "signet_ingest_events_accepted",
            "Events acknowledged by the broker (replays not counted)",
            ["endpoint"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "signet_ingest_events_rejected",
            "Events refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.idempotent_replays = Counter(
            "signet_ingest_idempotent_replays",
            "Requests answered from an earlier request with the same idempotency key",
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "signet_ingest_produce_seconds",
            "Time from produce to broker acknowledgement (acks=all)",
            ["result"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.kafka = KafkaMetrics.create(self.registry)
        # The children of the hot path's labels, looked up once: ``labels()`` takes a lock
        # and builds a key each call, and costs more than the increment it leads to.
        self.accepted = {e: self.events_accepted.labels(e) for e in ("single", "bulk")}
        self.produced = {r: self.produce_seconds.labels(r) for r in ("ok", "error")}
        self._answered: dict[tuple[str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Counts every request by route and status; outermost, so it sees problems too."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "other"
        started = time.perf_counter()
        self.in_flight.inc()

        def count(status: int) -> None:
            self.in_flight.dec()
            # Bounded: route templates times status codes.
            counter = self._answered.get((route, status))
            if counter is None:
                counter = self._answered[route, status] = self.requests.labels(route, str(status))
            counter.inc()
            if route.startswith("/v1/"):
                timed = self._timed.get(route)
                if timed is None:
                    timed = self._timed[route] = self.request_seconds.labels(route)
                timed.observe(time.perf_counter() - started)

        return await answered(request, handler, count)
