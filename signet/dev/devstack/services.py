"""Which processes the dev stack runs, and the environment each one gets.

Every service reads the same ``SIGNET_*`` names (``SIGNET_PORT`` means the ingest's port
to the ingest and the portal's to the portal), so each child gets its own environment:
the parent's, then what all of them share (broker, topics), then its own settings.
Adding a service is one entry in :func:`service_specs`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from signet.dev.devstack.ports import StackPorts
from signet.dev.devstack.state import StackKeys
from signet.dev.devstack.supervisor import ChildSpec
from signet.settings import DevStackSettings

READY_PATH = "/readyz"
# The example host page of a source checkout (a wheel does not carry examples/).
EMBED_HOST_SERVER = Path(__file__).resolve().parents[3] / "examples" / "embed-host" / "server.py"
# In the state directory, next to the saved setup: the example host's demo workspace (id
# and publishable key), so a restart reuses it instead of creating one more each time.
EMBED_HOST_STATE_FILE = "embed-host.json"
RECEIVER_PATH = "/hook"
# Hosts a client cannot connect to; the stack's own URLs use loopback instead.
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared, not bound


@dataclass(slots=True, frozen=True)
class StackPlan:
    """Everything the children's settings are derived from."""

    settings: DevStackSettings
    ports: StackPorts
    keys: StackKeys
    bootstrap: str
    data_dir: Path
    # ``.signet/`` itself, which keeps what ``data_dir`` (wiped with the embedded broker)
    # cannot; None: the example host keeps nothing and creates a workspace at each start.
    state_dir: Path | None = None


def client_host(host: str) -> str:
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


def url(host: str, port: int, path: str = "") -> str:
    host = client_host(host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def shared_env(plan: StackPlan) -> dict[str, str]:
    """What every child shares: the broker, topic layout, logging, unbuffered output."""
    settings = plan.settings
    return {
        "SIGNET_KAFKA_BOOTSTRAP": plan.bootstrap,
        "SIGNET_TOPIC_PREFIX": settings.topic_prefix,
        "SIGNET_PARTITIONS": str(settings.partitions),
        "SIGNET_DELIVERIES_PARTITIONS": str(settings.deliveries_partitions),
        "SIGNET_REPLICATION_FACTOR": str(settings.replication_factor),
        "SIGNET_LOG_LEVEL": settings.log_level,
        "SIGNET_LOG_JSON": "false",  # the lines are for a human reading the terminal
        "PYTHONUNBUFFERED": "1",  # each line reaches the prefixed output as it is logged
        # As in the image (Dockerfile): librdkafka's threads would each grow a malloc arena.
        "MALLOC_ARENA_MAX": "2",
    }


Own = dict[str, str | int | bool]


def child_env(base_env: Mapping[str, str], shared: Mapping[str, str], own: Own) -> dict[str, str]:
    """The parent's environment, then the shared settings, then the child's own ``SIGNET_*``."""
    env = {**base_env, **shared}
    for key, value in own.items():
        env[f"SIGNET_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def embed_host_port(ports: StackPorts) -> int | None:
    """The example host page's port, or None when it does not run."""
    return ports.embed_host if EMBED_HOST_SERVER.exists() else None


def service_specs(plan: StackPlan, base_env: Mapping[str, str]) -> list[ChildSpec]:
    """The children of ``signet up``, in start order; ``base_env`` is the parent's env."""
    ports, keys, host = plan.ports, plan.keys, plan.settings.host
    local = "127.0.0.1"  # internal ports never need to be reachable from elsewhere
    data = plan.data_dir
    # name, host and port of /readyz, the service's own settings: one entry per service.
    services: list[tuple[str, str, int, Own]] = [
        ("ingest", host, ports.ingest, {"host": host, "port": ports.ingest}),
        (
            "router",
            local,
            ports.router_web,
            {"web_host": local, "web_port": ports.router_web, "data_dir": str(data / "router")},
        ),
        (
            "dispatcher",
            local,
            ports.dispatcher_metrics,
            {
                "metrics_host": local,
                "metrics_port": ports.dispatcher_metrics,
                "master_keys": keys.master_keys,
                # The dev stack delivers to loopback receivers over http; the banner says so.
                "allow_private_destinations": True,
                "allow_insecure_destinations": True,
            },
        ),
        (
            "portal",
            host,
            ports.portal,
            {
                "host": host,
                "port": ports.portal,
                "public_url": url(host, ports.portal),
                "operator_key": keys.operator_key,
                "master_keys": keys.master_keys,
                "session_key": keys.session_key,
                "allow_insecure_destinations": True,
                "database_url": f"sqlite:///{data / 'signet.db'}",
            },
        ),
    ]
    if ports.alerter_metrics is not None:
        services.append(
            (
                "alerter",
                local,
                ports.alerter_metrics,
                {
                    "metrics_host": local,
                    "metrics_port": ports.alerter_metrics,
                    "master_keys": keys.master_keys,
                    "public_url": url(host, ports.portal),
                    # Slack stand-ins on loopback over http (`signet demo`), as for webhooks.
                    "allow_private_destinations": True,
                    "allow_insecure_destinations": True,
                },
            )
        )
    shared = shared_env(plan)
    specs = [
        ChildSpec(
            name=name,
            argv=(sys.executable, "-m", f"services.{name}"),
            env=child_env(base_env, shared, own),
            ready_url=url(ready_host, port, READY_PATH),
        )
        for name, ready_host, port, own in services
    ]
    if ports.receiver is not None:
        listen = ("listen", "--host", local, "--port", str(ports.receiver))
        specs.append(
            ChildSpec(
                name="receiver",
                argv=(sys.executable, "-m", "signet.cli", *listen),
                # By environment, not argv: a command line is visible to anyone in `ps`.
                env=child_env(base_env, shared, {"listen_secret": keys.receiver_secret}),
                ready_url=url(local, ports.receiver, READY_PATH),
            )
        )
    if (host_port := embed_host_port(ports)) is not None:
        # Not a Signet service but the SaaS's own page: it holds the operator key on its
        # server, mints sessions for its demo workspace and embeds /embed.
        specs.append(
            ChildSpec(
                name="embed-host",
                argv=(sys.executable, str(EMBED_HOST_SERVER)),
                env={
                    **child_env(base_env, shared, {}),
                    "SIGNET_PORTAL_URL": url(host, ports.portal),
                    "SIGNET_INGEST_URL": url(host, ports.ingest),
                    "SIGNET_OPERATOR_KEY": keys.operator_key,
                    "HOST_PORT": str(host_port),
                    "HOST_ORIGIN": url(local, host_port),
                    **(
                        {"HOST_STATE_FILE": str(plan.state_dir / EMBED_HOST_STATE_FILE)}
                        if plan.state_dir is not None
                        else {}
                    ),
                },
                ready_url=url(local, host_port, READY_PATH),
                # Its demo workspace is a change the router must apply: once it is ready.
                after_the_others=True,
            )
        )
    return specs
