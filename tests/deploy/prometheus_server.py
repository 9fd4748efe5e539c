"""Debian's Prometheus tools for tests: ``promtool``, and a real ``prometheus`` process on
a free loopback port with a generated config, queried through its HTTP API.

    with PrometheusServer(scrape_configs, tmp_path) as prometheus:
        prometheus.query('up{job="signet-ingest"}')

A missing binary fails the test with the install line; it is never a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import yaml

from signet.dev.broker import free_port

INSTALL_HINT = (
    "install Debian's prometheus package (apt-get install -y prometheus), "
    "which .ci/run does when promtool is missing"
)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} not found on PATH: {INSTALL_HINT}")
    return path


class PrometheusServer:
    def __init__(
        self,
        scrape_configs: list[dict[str, Any]],
        workdir: Path,
        *,
        scrape_interval: str = "1s",
        ready_timeout: float = 30.0,
    ) -> None:
        self._binary = require("prometheus")
        self._workdir = workdir
        self._ready_timeout = ready_timeout
        self._config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs,
        }
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self._workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config), encoding="utf-8")
        self.port = free_port()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own arguments
                [
                    self._binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self._workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)  # the poll period of this deadline loop (synchronous: no eventually)
        self.stop()
        raise AssertionError(f"prometheus did not become ready:\n{self.output()}")

    def query(self, expr: str) -> dict[str, Any]:
        """The JSON answer of ``/api/v1/query``; errors (bad PromQL) come back too."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                answer: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            answer = json.load(exc)
        return answer

    def targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as response:  # noqa: S310
            active: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
        return active

    def output(self) -> str:
        return self._log.read_text(errors="replace")[-4000:] if self._log.exists() else ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
