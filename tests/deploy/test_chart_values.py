"""The chart sets only settings Signet reads, and refuses values that cannot work with a
message that says what to change."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from pydantic_settings import BaseSettings

from signet.settings import (
    AlerterSettings,
    CommonSettings,
    DispatcherSettings,
    IngestSettings,
    PortalSettings,
    RouterSettings,
)
from tests.deploy.chart import COMPONENTS, Rendered, component_name, render

SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "portal": PortalSettings,
    "router": RouterSettings,
    "dispatcher": DispatcherSettings,
    "alerter": AlerterSettings,
}


def _variables(settings: type[BaseSettings]) -> set[str]:
    return {f"SIGNET_{field.upper()}" for field in settings.model_fields}


def test_every_variable_is_a_setting_of_the_service_it_reaches(rendered: Rendered) -> None:
    shared = rendered.named("ConfigMap", "signet-settings")["data"]
    read_by_someone = set().union(*(_variables(s) for s in SETTINGS.values()))
    assert set(shared) <= read_by_someone, set(shared) - read_by_someone
    assert {k for k in shared if k in _variables(CommonSettings)} >= {
        "SIGNET_KAFKA_BOOTSTRAP",
        "SIGNET_TOPIC_PREFIX",
        "SIGNET_PARTITIONS",
        "SIGNET_DELIVERIES_PARTITIONS",
    }
    for component in COMPONENTS:
        deployment = rendered.named("Deployment", component_name(component))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        own = {e["name"] for e in container["env"]}
        unknown = own - _variables(SETTINGS[component])
        assert not unknown, f"{component} does not read {sorted(unknown)}"
    (job,) = rendered.of_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    unknown = {e["name"] for e in container["env"]} - read_by_someone
    assert not unknown, f"the topic job sets {sorted(unknown)}"


@pytest.mark.parametrize(("value", "rendered_as"), [(None, "false"), (True, "true")])
def test_the_catalog_may_be_required_of_every_event(value: bool | None, rendered_as: str) -> None:
    values = {} if value is None else {"settings": {"requireCatalogedEventTypes": value}}
    shared = render(values).named("ConfigMap", "signet-settings")["data"]
    assert shared["SIGNET_REQUIRE_CATALOGED_EVENT_TYPES"] == rendered_as
    assert IngestSettings.model_fields["require_cataloged_event_types"].default is False
    assert RouterSettings.model_fields["require_cataloged_event_types"].default is False


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"kafka": {"securityProtocol": "SASL_SSL"}},
            "needs kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.existingSecret",
        ),
        (
            {"kafka": {"securityProtocol": "TLS"}},
            "kafka.securityProtocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        ),
        (
            {"kafka": {"sasl": {"mechanism": "PLAIN"}}},
            "kafka.sasl.mechanism is set but kafka.securityProtocol is not SASL",
        ),
        (
            {"kafka": {"partitions": 3}, "router": {"replicas": 4}},
            "router: 4 replicas but its topics have 3 partitions",
        ),
        (
            {
                "kafka": {"deliveriesPartitions": 6},
                "dispatcher": {"autoscaling": {"enabled": True, "maxReplicas": 12}},
            },
            "dispatcher: 12 replicas but its topics have 6 partitions",
        ),
        ({"secrets": {"existingSecret": ""}}, "secrets.existingSecret must name the Secret"),
        ({"database": {"existingSecret": ""}}, "database.existingSecret must name the Secret"),
    ],
)
def test_refuses_values_that_cannot_work(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


def test_a_disabled_service_renders_nothing() -> None:
    rendered = render(
        {"alerter": {"enabled": False}, "metrics": {"serviceMonitor": {"enabled": True}}}
    )
    names = {m["metadata"]["name"] for m in rendered.manifests}
    assert component_name("alerter") not in names
    assert component_name("dispatcher") in names


def _env(rendered: Rendered, component: str) -> dict[str, Any]:
    deployment = rendered.named("Deployment", component_name(component))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_egress_proxy_reaches_the_services_that_call_out() -> None:
    rendered = render({"egressProxy": {"url": "http://proxy.internal:3128", "noProxy": ".svc"}})
    for component in ("dispatcher", "alerter"):
        env = _env(rendered, component)
        assert env["SIGNET_EGRESS_PROXY_URL"] == "http://proxy.internal:3128"
        assert env["SIGNET_EGRESS_NO_PROXY"] == ".svc"
    for component in ("ingest", "portal", "router"):
        assert "SIGNET_EGRESS_PROXY_URL" not in _env(rendered, component)
    for component in COMPONENTS:  # by default: no proxy anywhere
        assert "SIGNET_EGRESS_PROXY_URL" not in _env(render({}), component)
    assert DispatcherSettings.model_fields["egress_proxy_url"].default is None
    assert AlerterSettings.model_fields["egress_no_proxy"].default == ""


def test_an_egress_proxy_with_credentials_comes_from_a_secret(production: Rendered) -> None:
    env = _env(production, "dispatcher")
    assert env["SIGNET_EGRESS_PROXY_URL"] == {
        "secretKeyRef": {"name": "signet-egress-proxy", "key": "egress-proxy-url"}
    }
    policy = production.named("NetworkPolicy", component_name("dispatcher"))
    assert {
        "ports": [{"port": 3128, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "10.40.0.0/24"}}],
    } in policy["spec"]["egress"]
    portal = production.named("NetworkPolicy", component_name("portal"))
    assert all(rule["ports"][0]["port"] != 3128 for rule in portal["spec"]["egress"])


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ({"url": "https://proxy:3128"}, "egressProxy.url must be http://host:port"),
        ({"url": "http://u:p@proxy:3128"}, "egressProxy.url holds credentials"),
        ({"url": "http://proxy:3128", "existingSecret": "s"}, "set url or existingSecret"),
    ],
)
def test_refuses_an_egress_proxy_that_cannot_work(proxy: dict[str, str], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render({"egressProxy": proxy})
