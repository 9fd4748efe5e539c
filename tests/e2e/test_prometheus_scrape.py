"""A real Prometheus (Debian's package) scrapes the running stack: every service's
``/metrics`` is a healthy target under the job name the rules and dashboards use, and one
Signet metric of each service comes back through Prometheus's HTTP API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.deploy.prometheus_server import PrometheusServer
from tests.e2e.conftest import Stack
from tests.eventually import eventually
from tests.processes import ServiceProcess

# One metric each service always exports once it has served a request or started.
PROBE_METRICS = {
    "ingest": "signet_ingest_requests_total",
    "portal": "signet_portal_requests_total",
    "router": "signet_router_workspaces",
    "dispatcher": "signet_dispatcher_in_flight",
    "alerter": "signet_alerter_in_flight",
}
DEADLINE_SECONDS = 45.0


def _metrics_target(process: ServiceProcess) -> str:
    """host:port of a service's HTTP server; it serves /metrics beside /readyz."""
    # ServiceProcess keeps the URL it polls for readiness; /metrics is on the same server.
    url = urlsplit(process._ready_url)
    return url.netloc


async def _wait_for_series(prometheus: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    last: list[dict[str, Any]] = [{}]

    async def series() -> list[dict[str, Any]] | None:
        answer = last[0] = await asyncio.to_thread(prometheus.query, expr)
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result or None

    return await eventually(
        series, lambda: f"a series for {expr}: {last[0]}", DEADLINE_SECONDS, interval=0.5
    )


async def test_prometheus_scrapes_every_service(stack: Stack, tmp_path: Path) -> None:
    # Requests for the services whose request counters have no series before the first.
    status, _ = await stack.operator("GET", "/v1/workspaces")
    assert status == 200
    status, _ = await stack.emit("pk_test_unknown", {"event": "order.completed"})
    assert status == 401

    scrape_configs = [
        {
            "job_name": f"signet-{name}",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [_metrics_target(process)]}],
        }
        for name, process in stack.processes.items()
    ]
    with PrometheusServer(scrape_configs, tmp_path) as prometheus:
        for name in stack.processes:
            job = f"signet-{name}"
            (up,) = await _wait_for_series(prometheus, f'up{{job="{job}"}} == 1')
            assert up["metric"]["job"] == job
            series = await _wait_for_series(prometheus, f'{PROBE_METRICS[name]}{{job="{job}"}}')
            assert all(s["metric"]["job"] == job for s in series)

        # The confluent-kafka consumers report their lag (not the router yet: its Faust
        # consumer is still to be wired, docs/operations.md section 3).
        for name in ("dispatcher", "portal"):
            job = f"signet-{name}"
            lag = await _wait_for_series(prometheus, f'signet_kafka_consumer_lag{{job="{job}"}}')
            assert all(s["metric"]["group"] and s["metric"]["topic"] for s in lag)

        # The overview dashboard's "Instances up" query sees every service.
        instances = await _wait_for_series(
            prometheus, 'sum by (job) (up{job=~"signet-.+",namespace=~".*"})'
        )
        assert {s["metric"]["job"]: s["value"][1] for s in instances} == {
            f"signet-{name}": "1" for name in stack.processes
        }
        unhealthy = [t for t in prometheus.targets() if t["health"] != "up"]
        assert not unhealthy, unhealthy
