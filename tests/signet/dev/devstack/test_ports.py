"""The port policy: fixed ports must be free, internal ones move (and say so)."""

from __future__ import annotations

import itertools
import socket

import pytest

from signet.dev.devstack.ports import port_is_free, resolve_ports
from signet.errors import ConfigurationError
from signet.settings import DevStackSettings

TAKEN = {8080, 9092, 6066}


def taken(host: str, port: int) -> bool:
    return port not in TAKEN


def counter() -> itertools.count[int]:
    return itertools.count(40000)


def test_defaults_when_everything_is_free() -> None:
    plan = resolve_ports(DevStackSettings(), is_free=lambda host, port: True)
    ports = plan.ports
    assert (ports.ingest, ports.portal, ports.broker) == (8080, 8081, 9092)
    assert (ports.router_web, ports.dispatcher_metrics, ports.receiver) == (6066, 8082, 9000)
    assert plan.notes == ()


def test_a_taken_ingest_port_is_an_error_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="SIGNET_INGEST_PORT"):
        resolve_ports(DevStackSettings(), is_free=taken)


def test_taken_internal_ports_move_and_say_so() -> None:
    free = counter()
    plan = resolve_ports(
        DevStackSettings(ingest_port=18080),
        is_free=taken,
        pick_free=lambda: next(free),
    )
    assert plan.ports.broker == 40000
    assert plan.ports.router_web == 40001
    assert plan.ports.dispatcher_metrics == 8082
    assert any("9092" in note and "40000" in note for note in plan.notes)
    assert any("6066" in note for note in plan.notes)


def test_external_kafka_and_no_receiver_mean_no_such_ports() -> None:
    plan = resolve_ports(
        DevStackSettings(kafka_bootstrap="kafka:9092", receiver=False),
        is_free=lambda host, port: True,
    )
    assert plan.ports.broker is None
    assert plan.ports.receiver is None


def test_two_settings_on_one_port_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="both 7000"):
        resolve_ports(
            DevStackSettings(ingest_port=7000, portal_port=7000), is_free=lambda h, p: True
        )


def test_zero_picks_a_free_port_and_port_is_free_sees_a_listener() -> None:
    free = counter()
    plan = resolve_ports(
        DevStackSettings(ingest_port=0, broker_port=0),
        is_free=lambda host, port: True,
        pick_free=lambda: next(free),
    )
    assert {plan.ports.ingest, plan.ports.broker} == {40000, 40001}
    assert plan.notes == ()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not port_is_free("127.0.0.1", sock.getsockname()[1])
