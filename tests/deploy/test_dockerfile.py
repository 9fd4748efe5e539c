"""The Dockerfile (no Docker engine here, so it is read, not built): multi-stage, a slim
Python 3.11 runtime without dev dependencies, a non-root user the chart agrees with, and
sources the build context really sends."""

from __future__ import annotations

import importlib.util
import tomllib
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser

from tests.deploy.chart import CHART_DIR, COMPONENTS, ROOT


def _instructions() -> list[dict[str, Any]]:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def _stages() -> list[list[dict[str, Any]]]:
    stages: list[list[dict[str, Any]]] = []
    for instruction in _instructions():
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.yaml").read_text("utf-8"))
    return values


def test_two_stages_on_python_311_slim() -> None:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    assert parser.is_multistage
    (arg,) = [i for i in _instructions() if i["instruction"] == "ARG"]
    assert arg["value"].startswith("PYTHON_IMAGE=python:3.11-slim")
    froms = [stage[0]["value"] for stage in _stages()]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_runtime_installs_only_the_built_wheels() -> None:
    build, runtime = _stages()
    runs = [i["value"] for i in runtime if i["instruction"] == "RUN"]
    (install,) = [r for r in runs if "pip install" in r]
    assert "--no-index" in install and "from=build" in install
    everything = " ".join(i["value"] for i in build + runtime)
    assert "[dev]" not in everything and "[local]" not in everything
    copied = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    assert copied == [], "the runtime stage copies files beside the wheels"


def test_runs_as_the_non_root_user_the_chart_expects() -> None:
    _, runtime = _stages()
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root UID (runAsNonRoot)"
    context = _values()["podSecurityContext"]
    assert (int(uid), int(gid)) == (context["runAsUser"], context["runAsGroup"])


def test_commands_the_chart_runs_exist_in_the_image() -> None:
    for component in COMPONENTS:
        assert importlib.util.find_spec(f"services.{component}.__main__"), component
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts["signet"] == "signet.cli:main"  # the topic Job: `signet topics ensure`
    _, runtime = _stages()
    exposed = {int(p) for i in runtime if i["instruction"] == "EXPOSE" for p in i["value"].split()}
    assert exposed == {_values()[c]["service"]["port"] for c in COMPONENTS}


def test_the_context_sends_what_the_dockerfile_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests", ".signet"} <= ignored
    for instruction in _instructions():
        if instruction["instruction"] != "COPY" or "--from" in instruction["value"]:
            continue
        *sources, _ = instruction["value"].split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, f"{source} is excluded by .dockerignore"
