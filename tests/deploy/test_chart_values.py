"""The chart sets only settings Signet reads, and refuses values that cannot work with a
message that says what to change."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
from opentelemetry.sdk import environment_variables as otel_environment
from pydantic_settings import BaseSettings

from signet import tracing
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


# Not Signet's settings but OpenTelemetry's own (signet/tracing.py): the chart may set
# any variable the OpenTelemetry SDK and its OTLP exporter define, and only those.
OTEL_VARIABLES = {
    value for name, value in vars(otel_environment).items() if name.startswith("OTEL_")
}


def _signet_only(names: set[str]) -> set[str]:
    otel = {name for name in names if name.startswith("OTEL_")}
    assert otel <= OTEL_VARIABLES, otel - OTEL_VARIABLES
    return names - otel


def test_every_variable_is_a_setting_of_the_service_it_reaches(rendered: Rendered) -> None:
    shared = rendered.named("ConfigMap", "signet-settings")["data"]
    read_by_someone = set().union(*(_variables(s) for s in SETTINGS.values()))
    assert _signet_only(set(shared)) <= read_by_someone, set(shared) - read_by_someone
    assert {k for k in shared if k in _variables(CommonSettings)} >= {
        "SIGNET_KAFKA_BOOTSTRAP",
        "SIGNET_TOPIC_PREFIX",
        "SIGNET_PARTITIONS",
        "SIGNET_DELIVERIES_PARTITIONS",
    }
    for component in COMPONENTS:
        deployment = rendered.named("Deployment", component_name(component))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        own = _signet_only({e["name"] for e in container["env"]})
        unknown = own - _variables(SETTINGS[component])
        assert not unknown, f"{component} does not read {sorted(unknown)}"
    (job,) = rendered.of_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    unknown = {e["name"] for e in container["env"]} - read_by_someone
    assert not unknown, f"the topic job sets {sorted(unknown)}"


def test_tracing_is_exported_only_with_an_otlp_endpoint() -> None:
    def otel(values: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        rendered = render(values)
        shared = rendered.named("ConfigMap", "signet-settings")["data"]
        deployment = rendered.named("Deployment", component_name("dispatcher"))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        own = [e for e in container["env"] if e["name"].startswith("OTEL_")]
        return {k: v for k, v in shared.items() if k.startswith("OTEL_")}, own

    assert otel({}) == ({}, [])
    assert otel({"otel": {"headersSecret": "otlp"}}) == ({}, [])  # no endpoint, no export
    shared, own = otel(
        {
            "otel": {
                "endpoint": "http://collector:4318",
                "sampler": "parentbased_traceidratio",
                "samplerArg": 0.25,
                "resourceAttributes": "deployment.environment=production",
                "headersSecret": "otlp",
                "extra": {"OTEL_BSP_MAX_QUEUE_SIZE": 4096},
            }
        }
    )
    assert shared == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=production",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
    }
    assert own == [
        {
            "name": "OTEL_EXPORTER_OTLP_HEADERS",
            "valueFrom": {"secretKeyRef": {"name": "otlp", "key": "otlp-headers"}},
        }
    ]
    assert tracing.exporting(shared)

    # With network policies on, each service may reach the collector's port.
    rendered = render({"otel": {"endpoint": "http://c:4318"}, "networkPolicy": {"enabled": True}})
    policy = rendered.named("NetworkPolicy", component_name("router"))
    ports = [[p["port"] for p in rule["ports"]] for rule in policy["spec"]["egress"]]
    assert [4318] in ports
    # A name OpenTelemetry does not define is refused by the check above.
    with pytest.raises(AssertionError):
        _signet_only({"OTEL_NOT_A_VARIABLE"})


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
