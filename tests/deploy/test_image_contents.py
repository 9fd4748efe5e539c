"""What the Docker image's build stage produces: the wheel of Signet, built from the same
files the Docker context sends, carries every non-Python file the services read at run
time (the Avro schemas, the embed UI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.chart import ROOT

# The Dockerfile's COPYs
CONTEXT = ("pyproject.toml", "README.md", "sdk/python", "signet", "services")
SDK_DATA = {"signet_sdk/py.typed", "signet_sdk/schemas/signet.Event.avsc"}


def _package_files() -> set[str]:
    """Non-Python files under the packages, as paths inside a wheel."""
    files = set()
    for package in ("signet", "services"):
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py":
                files.add(path.relative_to(ROOT).as_posix())
    return files


def test_the_wheel_carries_every_data_file(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in CONTEXT:
        source = ROOT / name
        if source.is_dir():
            ignore_tests = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
            shutil.copytree(
                source, context / name, ignore=ignore_tests if "sdk" in name else ignore
            )
        else:
            shutil.copy2(source, context / name)
    # As the Dockerfile's `pip wheel ./sdk/python .`, without the dependencies.
    wheel_command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path)]
    result = subprocess.run(  # noqa: S603 - our own arguments
        [*wheel_command, "./sdk/python", "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("signet-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    expected = _package_files()
    assert "services/portal/embed/static/index.html" in expected
    assert "signet/records/schemas/signet.Event.avsc" in expected
    missing = sorted(expected - packed)
    assert not missing, f"the image would lack {missing}: add them to package-data"
    (sdk_wheel,) = tmp_path.glob("signet_sdk-*.whl")
    with zipfile.ZipFile(sdk_wheel) as archive:
        sdk_packed = set(archive.namelist())
    assert sdk_packed >= SDK_DATA, sorted(SDK_DATA - sdk_packed)
