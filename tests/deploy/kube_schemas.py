"""Validate rendered manifests offline: core kinds against the Kubernetes OpenAPI schemas
that kubernetes-validate ships (strict: unknown fields fail), Prometheus Operator kinds
against the typed models of cloudcoil-models-prometheus-operator."""

from __future__ import annotations

from typing import Any

import cloudcoil.models.prometheus_operator.v1 as prometheus_operator
import kubernetes_validate
from pydantic import BaseModel

# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and a recent release.
KUBE_VERSIONS = ("1.27.0", "1.35.0")

_OPERATOR_KINDS: dict[str, type[BaseModel]] = {
    "ServiceMonitor": prometheus_operator.ServiceMonitor,
    "PrometheusRule": prometheus_operator.PrometheusRule,
}


def validate(manifest: dict[str, Any], kube_version: str) -> None:
    """Raise AssertionError naming the manifest and the first problem found."""
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    model = _OPERATOR_KINDS.get(kind)
    if model is not None:
        # The models ignore unknown fields, so compare what survives a round trip: a
        # misspelt or misplaced field is dropped and the comparison fails.
        parsed = model.model_validate(manifest)
        again = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert again == manifest, f"{kind} {name} has fields the CRD does not define"
        return
    try:
        kubernetes_validate.validate(manifest, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        raise AssertionError(
            f"{kind} {name} (Kubernetes {kube_version}): {path}: {exc.message}"
        ) from exc
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise AssertionError(f"no schema for {kind} {name}: {exc.message}") from exc
