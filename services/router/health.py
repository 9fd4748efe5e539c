"""The router's small HTTP server: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``.

Faust's own web server stays off (it would expose the config table); this one serves
only what operators and ``signet up`` probe, on the worker's own ``web_port``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from signet.kafka_health import KafkaHealth
from signet.web import add_health_routes, problem_middleware

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Signet router", "version": "0.1.0"},
    "paths": {
        "/healthz": {"get": {"summary": "The process answers", "responses": {"200": {}}}},
        "/readyz": {
            "get": {
                "summary": (
                    "Partitions assigned, the config table recovered, the broker "
                    "reachable and no Kafka client dead"
                ),
                "responses": {"200": {}, "503": {}},
            }
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {}}}},
    },
}


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        ready: Callable[[], bool],
        registry: CollectorRegistry,
        kafka: KafkaHealth | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._ready = ready
        self._kafka = kafka
        self._registry = registry
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[problem_middleware])
        add_health_routes(
            app,
            ready=self._ready,
            openapi=lambda: OPENAPI,
            registry=self._registry,
            kafka=self._kafka,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
