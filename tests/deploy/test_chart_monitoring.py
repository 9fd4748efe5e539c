"""The chart's monitoring objects carry the same rules, dashboards and job names as
deploy/prometheus and deploy/grafana, and the topic-creation Job runs as a hook."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.deploy.chart import COMPONENTS, ROOT, RULES_FILE, Rendered, component_name

DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"


def test_prometheus_rule_carries_the_rules_file(production: Rendered) -> None:
    (rule,) = production.of_kind("PrometheusRule")
    expected = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    assert rule["spec"] == expected
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {"SignetServiceDown", "SignetDeliverySuccessRateLow", "SignetDeadLetters"} <= alerts


def test_service_monitors_give_targets_the_rules_job_names(production: Rendered) -> None:
    rules_text = RULES_FILE.read_text(encoding="utf-8")
    for component in COMPONENTS:
        name = component_name(component)
        monitor = production.named("ServiceMonitor", name)
        service = production.named("Service", name)
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        (relabel,) = endpoint["relabelings"]
        job = f"signet-{component}"
        assert (relabel["targetLabel"], relabel["replacement"]) == ("job", job)
        assert f'job="{job}"' in rules_text, f"the rules do not watch {job}"


def test_dashboards_ship_as_sidecar_config_maps(production: Rendered) -> None:
    files = {p.name: p for p in sorted(DASHBOARD_DIR.glob("*.json"))}
    assert files, "no dashboards under deploy/grafana/dashboards"
    shipped: dict[str, str] = {}
    for config_map in production.of_kind("ConfigMap"):
        if config_map["metadata"]["labels"].get("grafana_dashboard") == "1":
            assert config_map["metadata"]["namespace"] == "monitoring"
            assert config_map["metadata"]["annotations"] == {"grafana_folder": "Signet"}
            shipped.update(config_map["data"])
    assert set(shipped) == set(files)
    for name, text in shipped.items():
        assert json.loads(text) == json.loads(files[name].read_text(encoding="utf-8"))


def test_topic_job_is_a_pre_install_and_pre_upgrade_hook(rendered: Rendered) -> None:
    (job,) = rendered.of_kind("Job")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["command"] == ["signet", "topics", "ensure"]
    # A pre-install hook runs before the ConfigMap exists: its settings must be inline,
    # and the same as the services get.
    assert "envFrom" not in container
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = rendered.named("ConfigMap", "signet-settings")["data"]
    # Not the OTEL_* tracing variables: the job runs no service and makes no spans.
    signet = {k: v for k, v in settings.items() if not k.startswith("OTEL_")}
    assert {k: v for k, v in env.items() if k in settings} == signet


def test_dashboard_links_in_the_chart_resolve_to_the_committed_files() -> None:
    chart_files = ROOT / "deploy" / "helm" / "signet" / "files"
    assert (chart_files / "signet-rules.yml").resolve() == RULES_FILE.resolve()
    assert Path(chart_files / "dashboards").resolve() == DASHBOARD_DIR.resolve()
