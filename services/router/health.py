"""What the router's health server (``signet.web.HealthServer``) documents of itself.

Faust's own web server stays off (it would expose the config table); the router serves
only what operators and ``signet up`` probe, on the worker's own ``web_port``.
"""

from __future__ import annotations

from typing import Any

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
