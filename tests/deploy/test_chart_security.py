"""What the chart promises about running safely: non-root, read-only root filesystem,
probes, secrets only by reference, and network policies that keep private ranges closed."""

from __future__ import annotations

from typing import Any

from tests.deploy.chart import COMPONENTS, Rendered, component_name

SECRET_SETTINGS = {
    "SIGNET_MASTER_KEYS",
    "SIGNET_OPERATOR_KEY",
    "SIGNET_SESSION_KEY",
    "SIGNET_DATABASE_URL",
    "SIGNET_KAFKA_SASL_PASSWORD",
}


def _pods(rendered: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment and Job."""
    workloads = rendered.of_kind("Deployment") + rendered.of_kind("Job")
    return [(w["metadata"]["name"], w["spec"]["template"]["spec"]) for w in workloads]


def test_every_pod_runs_as_non_root_on_a_read_only_root(rendered: Rendered) -> None:
    for name, pod in _pods(rendered):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            tmp = mounts["/tmp"]  # noqa: S108 - the pod's own emptyDir, not a shared /tmp
            assert "emptyDir" in volumes[tmp], f"{name}: /tmp is not writable"


def test_the_router_keeps_its_table_state_on_a_writable_volume(rendered: Rendered) -> None:
    pod = rendered.named("Deployment", component_name("router"))["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    data_dir = env["SIGNET_DATA_DIR"]
    assert "emptyDir" in volumes[mounts[data_dir]]


def test_every_service_is_probed_on_its_own_port(rendered: Rendered) -> None:
    for component in COMPONENTS:
        deployment = rendered.named("Deployment", component_name(component))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (port,) = container["ports"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        # The service listens where the probes look: on all interfaces, on the port.
        listen_port = {
            "ingest": "SIGNET_PORT",
            "portal": "SIGNET_PORT",
            "router": "SIGNET_WEB_PORT",
            "dispatcher": "SIGNET_METRICS_PORT",
            "alerter": "SIGNET_METRICS_PORT",
        }[component]
        assert env[listen_port] == str(port["containerPort"])
        everywhere = "0.0.0.0"  # noqa: S104 - what a pod must listen on to be probed
        assert everywhere in env.values(), f"{component} would listen on loopback only"
        for probe, path in (
            ("livenessProbe", "/healthz"),
            ("startupProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}


def test_secrets_are_referenced_never_inlined(rendered: Rendered) -> None:
    assert rendered.of_kind("Secret") == []
    for config_map in rendered.of_kind("ConfigMap"):
        assert not SECRET_SETTINGS & set(config_map.get("data", {}))
    for name, pod in _pods(rendered):
        for container in pod["containers"]:
            for variable in container.get("env", []):
                if variable["name"] in SECRET_SETTINGS:
                    assert "value" not in variable, f"{name} inlines {variable['name']}"
                    assert variable["valueFrom"]["secretKeyRef"]["name"], name


def test_services_get_the_secrets_they_need(production: Rendered) -> None:
    needs = {
        "ingest": {"SIGNET_KAFKA_SASL_PASSWORD"},
        "router": {"SIGNET_KAFKA_SASL_PASSWORD"},
        "dispatcher": {"SIGNET_KAFKA_SASL_PASSWORD", "SIGNET_MASTER_KEYS"},
        "alerter": {"SIGNET_KAFKA_SASL_PASSWORD", "SIGNET_MASTER_KEYS"},
        "portal": SECRET_SETTINGS,
    }
    for component, secrets in needs.items():
        deployment = production.named("Deployment", component_name(component))
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container["env"]
            if e["name"] in SECRET_SETTINGS
        }
        assert set(refs) == secrets, component
        if "SIGNET_KAFKA_SASL_PASSWORD" in refs:
            assert refs["SIGNET_KAFKA_SASL_PASSWORD"] == {"name": "signet-kafka", "key": "password"}


def test_kafka_ca_is_mounted_where_the_settings_point(production: Rendered) -> None:
    settings = production.named("ConfigMap", "signet-settings")["data"]
    assert settings["SIGNET_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["SIGNET_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    ca_path = settings["SIGNET_KAFKA_SSL_CA_LOCATION"]
    for name, pod in _pods(production):
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        secret = volumes["kafka-ca"]["secret"]
        assert secret["secretName"] == "signet-kafka-ca", name
        (item,) = secret["items"]
        assert f"{mounts['kafka-ca']}/{item['path']}" == ca_path, name


def test_network_policies_open_only_what_each_service_needs(production: Rendered) -> None:
    def egress_ports(policy: dict[str, Any]) -> set[int]:
        return {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}

    for component in COMPONENTS:
        policy = production.named("NetworkPolicy", component_name(component))
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        ports = egress_ports(policy)
        assert {53, 9096} <= ports
        assert (5432 in ports) == (component == "portal")
        assert (443 in ports) == (component in ("dispatcher", "alerter"))

    dispatcher = production.named("NetworkPolicy", component_name("dispatcher"))
    (webhooks,) = [r for r in dispatcher["spec"]["egress"] if r["ports"][0]["port"] == 443]
    blocks = {b["ipBlock"]["cidr"]: set(b["ipBlock"]["except"]) for b in webhooks["to"]}
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= blocks[
        "0.0.0.0/0"
    ]
    assert {"fc00::/7", "fe80::/10"} <= blocks["::/0"]
