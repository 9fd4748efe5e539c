"""Run a Signet service as a real child process (``python -m services.<name>``) in tests.

    async with ServiceProcess("router", env, ready_url="http://127.0.0.1:6123/readyz") as p:
        ...

The process gets the test's ``SIGNET_*`` settings, its output goes to a log file that is
printed when readiness fails, and it is stopped with SIGTERM (then SIGKILL) on exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

from signet.settings import CommonSettings
from tests.eventually import eventually


def service_env(settings: CommonSettings, **extra: str | int | float | bool) -> dict[str, str]:
    """``SIGNET_*`` variables for a child process: the broker and topic prefix, plus extras."""
    env = {
        "SIGNET_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SIGNET_TOPIC_PREFIX": settings.topic_prefix,
        "SIGNET_PARTITIONS": str(settings.partitions),
        "SIGNET_DELIVERIES_PARTITIONS": str(settings.deliveries_partitions),
        "SIGNET_LOG_LEVEL": "INFO",
    }
    env.update(
        {
            f"SIGNET_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in extra.items()
        }
    )
    return env


class ServiceProcess:
    def __init__(
        self,
        service: str,
        env: dict[str, str],
        *,
        ready_url: str,
        ready_timeout: float = 60.0,
    ) -> None:
        self.service = service
        self._env = {**os.environ, **env}
        self._ready_url = ready_url
        self._ready_timeout = ready_timeout
        self._process: asyncio.subprocess.Process | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"signet-{service}-", suffix=".log")[1])

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self) -> None:
        await self.spawn()
        await self.wait_ready()

    async def spawn(self) -> None:
        """Start the process without waiting for it to be ready (a supervisor's restart)."""
        log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{self.service}", env=self._env, stdout=log, stderr=log
        )
        log.close()

    @property
    def returncode(self) -> int | None:
        """The exit code once the process ended; None while it runs (or never started)."""
        return None if self._process is None else self._process.returncode

    async def wait_ready(self) -> None:
        """Until ``/readyz`` answers 200; fails at the deadline or when the process exits."""
        not_ready = f"{self.service} not ready at {self._ready_url}"
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if self._process is not None and self._process.returncode is not None:
                    raise AssertionError(f"{not_ready}: it exited\n{self.output()}")
                try:
                    async with session.get(
                        self._ready_url, timeout=aiohttp.ClientTimeout(total=1)
                    ) as r:
                        return r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    return False

            await eventually(
                ready, lambda: f"{not_ready}:\n{self.output()}", self._ready_timeout, interval=0.2
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]

    def kill(self) -> None:
        """SIGKILL: a crash, no draining."""
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 20.0) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        return process.returncode

    async def __aenter__(self) -> ServiceProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
