"""What the router's health server (``signet.web.HealthServer``) says readiness means.

Faust's own web server stays off (it would expose the config table); the router serves
only what operators and ``signet up`` probe, on the worker's own ``web_port``.
"""

from __future__ import annotations

READY_MEANS = (
    "Partitions assigned, the config table recovered, the broker reachable and no Kafka "
    "client dead (503 until then)"
)
