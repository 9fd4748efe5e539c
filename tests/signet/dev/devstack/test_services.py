"""Each child gets its own environment: shared broker settings plus its own ports and keys."""

from __future__ import annotations

from pathlib import Path

from signet.dev.devstack.ports import StackPorts
from signet.dev.devstack.services import StackPlan, service_specs
from signet.dev.devstack.state import StackKeys
from signet.settings import DevStackSettings

PORTS = StackPorts(18080, 18081, 16066, 18082, broker=19092, receiver=19000)
KEYS = StackKeys("sk_op_test", "k1:AAAA", "s" * 43, receiver_secret="whsec_abc")


def plan(**overrides: object) -> StackPlan:
    settings = DevStackSettings(topic_prefix="dev.", partitions=4, **overrides)  # type: ignore[arg-type]
    return StackPlan(settings, PORTS, KEYS, "127.0.0.1:19092", Path("/state/data"))


def test_every_service_and_the_receiver_in_start_order() -> None:
    specs = service_specs(plan(), {})
    assert [s.name for s in specs] == ["ingest", "router", "dispatcher", "portal", "receiver"]
    assert specs[0].argv[1:] == ("-m", "services.ingest")
    ready = {s.name: s.ready_url for s in specs}
    assert ready == {
        "ingest": "http://127.0.0.1:18080/readyz",
        "router": "http://127.0.0.1:16066/readyz",
        "dispatcher": "http://127.0.0.1:18082/readyz",
        "portal": "http://127.0.0.1:18081/readyz",
        "receiver": "http://127.0.0.1:19000/readyz",
    }


def test_same_setting_names_get_per_child_values() -> None:
    env = {s.name: s.env for s in service_specs(plan(), {})}
    assert env["ingest"]["SIGNET_PORT"] == "18080"
    assert env["portal"]["SIGNET_PORT"] == "18081"
    assert env["router"]["SIGNET_WEB_PORT"] == "16066"
    assert env["router"]["SIGNET_DATA_DIR"] == "/state/data/router"
    assert env["dispatcher"]["SIGNET_METRICS_PORT"] == "18082"
    assert env["dispatcher"]["SIGNET_METRICS_HOST"] == "127.0.0.1"
    assert "SIGNET_PORT" not in env["router"]
    for name in ("ingest", "router", "dispatcher", "portal", "receiver"):
        assert env[name]["SIGNET_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
        assert env[name]["SIGNET_TOPIC_PREFIX"] == "dev."
        assert env[name]["SIGNET_PARTITIONS"] == "4"
        assert env[name]["PYTHONUNBUFFERED"] == "1"


def test_keys_and_dev_only_permissions_go_where_they_are_needed() -> None:
    env = {s.name: s.env for s in service_specs(plan(), {})}
    assert env["portal"]["SIGNET_OPERATOR_KEY"] == "sk_op_test"
    assert env["portal"]["SIGNET_SESSION_KEY"] == "s" * 43
    assert env["portal"]["SIGNET_MASTER_KEYS"] == env["dispatcher"]["SIGNET_MASTER_KEYS"]
    assert env["portal"]["SIGNET_DATABASE_URL"] == "sqlite:////state/data/signet.db"
    assert env["portal"]["SIGNET_PUBLIC_URL"] == "http://127.0.0.1:18081"
    assert env["dispatcher"]["SIGNET_ALLOW_PRIVATE_DESTINATIONS"] == "true"
    assert env["dispatcher"]["SIGNET_ALLOW_INSECURE_DESTINATIONS"] == "true"
    assert "SIGNET_OPERATOR_KEY" not in env["ingest"]
    assert "SIGNET_MASTER_KEYS" not in env["ingest"]
    receiver = service_specs(plan(), {})[-1]
    assert "whsec_abc" not in receiver.argv  # never on a command line, where `ps` shows it
    assert receiver.env["SIGNET_LISTEN_SECRET"] == "whsec_abc"


def test_parent_environment_passes_through_but_stack_settings_win() -> None:
    parent = {"PATH": "/bin", "SIGNET_PORT": "1", "SIGNET_MAX_IN_FLIGHT": "9"}
    env = {s.name: s.env for s in service_specs(plan(), parent)}
    assert env["ingest"]["PATH"] == "/bin"
    assert env["ingest"]["SIGNET_PORT"] == "18080"
    assert env["dispatcher"]["SIGNET_MAX_IN_FLIGHT"] == "9"


def test_a_wildcard_host_is_probed_on_loopback_and_no_receiver_when_disabled() -> None:
    specs = service_specs(plan(host="0.0.0.0"), {})  # noqa: S104
    assert specs[0].env["SIGNET_HOST"] == "0.0.0.0"  # noqa: S104
    assert specs[0].ready_url == "http://127.0.0.1:18080/readyz"
    no_receiver = StackPlan(
        DevStackSettings(), StackPorts(1, 2, 3, 4, None, None), KEYS, "k:9092", Path("/d")
    )
    assert [s.name for s in service_specs(no_receiver, {})][-1] == "portal"


def test_the_example_host_starts_once_the_services_are_ready() -> None:
    """Its first call creates the demo workspace, which the router must apply in time."""
    ports = StackPorts(18080, 18081, 16066, 18082, broker=19092, receiver=None, embed_host=18090)
    stack = StackPlan(DevStackSettings(), ports, KEYS, "127.0.0.1:19092", Path("/state/data"))
    later = {s.name: s.after_the_others for s in service_specs(stack, {})}
    assert later.pop("embed-host") is True
    assert not any(later.values())
