"""The Helm chart lints and renders with the Helm engine for its default values and both
example values files, and every manifest is valid Kubernetes (or Prometheus Operator)."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from tests.deploy.chart import COMPONENTS, VALUES_FILES, Rendered, component_name, lint, load_values
from tests.deploy.kube_schemas import KUBE_VERSIONS, validate


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_name", sorted(VALUES_FILES))
def test_chart_lints_clean(values_name: str, kube_version: str) -> None:
    report = lint(load_values(values_name), f"v{kube_version}")
    findings = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert report["errors"] == [], report
    assert findings == [], findings


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_manifest_validates(rendered: Rendered, kube_version: str) -> None:
    assert rendered.manifests, "the chart rendered nothing"
    for manifest in rendered.manifests:
        validate(manifest, kube_version)


def test_one_deployment_per_service_all_on_one_image(rendered: Rendered) -> None:
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    assert set(deployments) == {component_name(c) for c in COMPONENTS}
    images = set()
    for component in COMPONENTS:
        (container,) = deployments[component_name(component)]["spec"]["template"]["spec"][
            "containers"
        ]
        assert container["command"] == ["python", "-m", f"services.{component}"]
        images.add(container["image"])
    assert len(images) == 1, images


def test_production_renders_every_optional_object(production: Rendered) -> None:
    kinds = Counter(m["kind"] for m in production.manifests)
    assert kinds["Deployment"] == len(COMPONENTS)
    assert kinds["Service"] == len(COMPONENTS)
    assert kinds["PodDisruptionBudget"] == len(COMPONENTS)
    assert kinds["ServiceMonitor"] == len(COMPONENTS)
    assert kinds["NetworkPolicy"] == len(COMPONENTS)
    assert kinds["HorizontalPodAutoscaler"] == 2
    assert kinds["PrometheusRule"] == 1
    assert kinds["Job"] == 1
    assert kinds["Secret"] == 0


def test_minimal_renders_no_monitoring_or_policy_objects(minimal: Rendered) -> None:
    kinds = {m["kind"] for m in minimal.manifests}
    for optional in (
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ):
        assert optional not in kinds
    for deployment in minimal.of_kind("Deployment"):
        assert deployment["spec"]["replicas"] == 1


def test_autoscaled_services_leave_replicas_to_the_hpa(production: Rendered) -> None:
    for component in ("router", "dispatcher"):
        hpa = production.named("HorizontalPodAutoscaler", component_name(component))
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", component_name(component))
        deployment = production.named("Deployment", component_name(component))
        assert "replicas" not in deployment["spec"]
    assert "replicas" in production.named("Deployment", component_name("ingest"))["spec"]


def test_services_and_pdbs_select_their_deployments_pods(production: Rendered) -> None:
    for component in COMPONENTS:
        name = component_name(component)
        pod = production.named("Deployment", name)["spec"]["template"]
        labels = pod["metadata"]["labels"]
        service = production.named("Service", name)
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = pod["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
        pdb = production.named("PodDisruptionBudget", name)
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["spec"]["maxUnavailable"] == 1


def test_validation_catches_a_misspelt_field(production: Rendered) -> None:
    """The checks above would pass vacuously if validation accepted anything."""
    deployment = copy.deepcopy(production.named("Deployment", component_name("ingest")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # capital S: not a field
    with pytest.raises(AssertionError, match="readOnlyRootFileSystem"):
        validate(deployment, KUBE_VERSIONS[-1])

    monitor = copy.deepcopy(production.named("ServiceMonitor", component_name("ingest")))
    monitor["spec"]["endpoints"][0]["scrapeIntervall"] = "30s"
    with pytest.raises(AssertionError, match="fields the CRD does not define"):
        validate(monitor, KUBE_VERSIONS[-1])
