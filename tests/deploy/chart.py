"""Render Signet's Helm chart with the Helm engine (helm-python-sdk, no helm binary) and
hand the tests its manifests as dicts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "deploy" / "helm" / "signet"
RULES_FILE = ROOT / "deploy" / "prometheus" / "signet-rules.yml"
RELEASE = "signet"
NAMESPACE = "signet"
COMPONENTS = ("ingest", "portal", "router", "dispatcher", "alerter")

# The values sets the chart is checked with: its defaults and the two example files.
VALUES_FILES: dict[str, Path | None] = {
    "default": None,
    "production": CHART_DIR / "ci" / "production-values.yaml",
    "minimal": CHART_DIR / "ci" / "minimal-values.yaml",
}

Manifest = dict[str, Any]


def load_values(name: str) -> dict[str, Any]:
    path = VALUES_FILES[name]
    if path is None:
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@contextmanager
def _chart() -> Iterator[helm.Chart]:
    helm.disable_logging()  # the loader logs each file under files/ that is a link
    with helm.Chart.load(CHART_DIR) as chart:
        yield chart


def render_templates(values: dict[str, Any]) -> dict[str, str]:
    """Template path → rendered text, as `helm template` (install) would produce."""
    with _chart() as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


@dataclass(slots=True, frozen=True)
class Rendered:
    manifests: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]


def render(values: dict[str, Any]) -> Rendered:
    manifests: list[Manifest] = []
    for path, text in render_templates(values).items():
        if not path.endswith(".yaml"):
            continue  # NOTES.txt
        manifests += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(manifests)


def lint(values: dict[str, Any], kube_version: str) -> dict[str, Any]:
    helm.disable_logging()
    return helm.lint(CHART_DIR, values, strict=True, kube_version=kube_version)


def component_name(component: str) -> str:
    return f"{RELEASE}-{component}"
