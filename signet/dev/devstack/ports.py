"""Which ports the dev stack listens on.

The ports you type (ingest, portal) must be free: a taken one is an error naming the
setting to change. The internal ones (broker, router web, dispatcher metrics, receiver)
move to a free port when taken, and say so; 0 asks for any free port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from signet.dev.broker import free_port
from signet.errors import ConfigurationError
from signet.settings import DevStackSettings

PortCheck = Callable[[str, int], bool]


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (as aiohttp does, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(slots=True, frozen=True)
class StackPorts:
    ingest: int
    portal: int
    router_web: int
    dispatcher_metrics: int
    broker: int | None  # None: an external Kafka, no embedded broker
    receiver: int | None  # None: no walk-through receiver
    alerter_metrics: int | None = None  # None: no alerter
    embed_host: int | None = None  # None: no example host page


@dataclass(slots=True, frozen=True)
class PortPlan:
    ports: StackPorts
    notes: tuple[str, ...]  # what moved, to log


def resolve_ports(
    settings: DevStackSettings,
    *,
    is_free: PortCheck = port_is_free,
    pick_free: Callable[[], int] = free_port,
) -> PortPlan:
    """Apply the port policy to ``settings``; raise ConfigurationError for a taken fixed port."""
    notes: list[str] = []
    chosen: dict[int, str] = {}

    def claim(port: int, setting: str) -> int:
        if port in chosen:
            raise ConfigurationError(
                f"SIGNET_{setting.upper()} and SIGNET_{chosen[port].upper()} are both {port}"
            )
        chosen[port] = setting
        return port

    def fixed(setting: str, port: int) -> int:
        if port == 0:
            return claim(pick_free(), setting)
        if not is_free(settings.host, port):
            raise ConfigurationError(
                f"port {port} ({setting.replace('_', ' ')}) is taken; stop what uses it "
                f"or set SIGNET_{setting.upper()} to another port"
            )
        return claim(port, setting)

    def movable(setting: str, port: int) -> int:
        if port != 0 and is_free("127.0.0.1", port) and port not in chosen:
            return claim(port, setting)
        picked = pick_free()
        while picked in chosen:
            picked = pick_free()
        if port != 0:
            notes.append(f"port {port} ({setting.replace('_', ' ')}) is taken; using {picked}")
        return claim(picked, setting)

    ingest = fixed("ingest_port", settings.ingest_port)
    portal = fixed("portal_port", settings.portal_port)
    broker = None if settings.kafka_bootstrap else movable("broker_port", settings.broker_port)
    ports = StackPorts(
        ingest=ingest,
        portal=portal,
        router_web=movable("router_web_port", settings.router_web_port),
        dispatcher_metrics=movable("dispatcher_metrics_port", settings.dispatcher_metrics_port),
        broker=broker,
        receiver=movable("receiver_port", settings.receiver_port) if settings.receiver else None,
        alerter_metrics=movable("alerter_metrics_port", settings.alerter_metrics_port),
        embed_host=movable("embed_host_port", settings.embed_host_port)
        if settings.embed_host
        else None,
    )
    return PortPlan(ports, tuple(notes))
