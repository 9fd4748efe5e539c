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
