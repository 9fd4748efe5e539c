"""The whole pipeline for end-to-end tests: router, dispatcher, portal and ingest as real
child processes on the session broker, with their own topic prefix per test module."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from signet.dev.broker import free_port
from signet.security.secrets import generate_master_key
from signet.settings import CommonSettings
from tests.processes import ServiceProcess, service_env


@dataclass(slots=True)
class Stack:
    ingest_url: str
    portal_url: str
    operator_key: str
    http: aiohttp.ClientSession
    processes: dict[str, ServiceProcess]

    async def operator(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await self._call(method, self.portal_url + path, self.operator_key, body)

    async def workspace(
        self, token: str, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        return await self._call(method, self.portal_url + path, token, body)

    async def admin_workspace(
        self, name: str = "Casterly", environment: str = "production"
    ) -> tuple[dict[str, Any], str]:
        """A new workspace (as the operator API answered it) and an admin session's token."""
        status, created = await self.operator(
            "POST", "/v1/workspaces", {"name": name, "environment": environment}
        )
        assert status == 201, created
        status, session = await self.operator(
            "POST", "/v1/sessions", {"workspace_id": created["id"], "role": "admin"}
        )
        assert status == 201, session
        return created, session["token"]

    async def emit(
        self, publishable_key: str, body: Any, path: str = "/v1/events"
    ) -> tuple[int, Any]:
        return await self._call("POST", self.ingest_url + path, publishable_key, body)

    async def _call(self, method: str, url: str, bearer: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {bearer}"}
        async with self.http.request(method, url, json=body, headers=headers) as response:
            payload = await response.json(content_type=None) if response.status != 204 else None
            return response.status, payload


ServiceSettings = dict[str, dict[str, str | int | float | bool]]


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    """Extra ``SIGNET_*`` settings per service (``{"dispatcher": {...}}``); a test module
    overrides this fixture to run the stack differently (short retry delays, ...)."""
    return {}


@pytest.fixture(scope="module")
async def stack(
    kafka_settings: CommonSettings,
    tmp_path_factory: pytest.TempPathFactory,
    stack_settings: ServiceSettings,
) -> AsyncIterator[Stack]:
    operator_key = base64.urlsafe_b64encode(os.urandom(24)).decode()
    master_keys = generate_master_key()
    ports = {name: free_port() for name in ("ingest", "portal", "router", "dispatcher")}
    shared = {"master_keys": master_keys}

    def env(service: str, **base: str | int | float | bool) -> dict[str, str]:
        return service_env(kafka_settings, **{**base, **stack_settings.get(service, {})})

    processes = {
        "router": ServiceProcess(
            "router",
            env("router", web_port=ports["router"]),
            ready_url=f"http://127.0.0.1:{ports['router']}/readyz",
        ),
        "dispatcher": ServiceProcess(
            "dispatcher",
            env(
                "dispatcher",
                metrics_port=ports["dispatcher"],
                allow_private_destinations=True,
                allow_insecure_destinations=True,
                **shared,
            ),
            ready_url=f"http://127.0.0.1:{ports['dispatcher']}/readyz",
        ),
        "portal": ServiceProcess(
            "portal",
            env(
                "portal",
                port=ports["portal"],
                public_url=f"http://127.0.0.1:{ports['portal']}",
                operator_key=operator_key,
                allow_insecure_destinations=True,
                # The module's own delivery log, not .signet/signet.db of the cwd.
                database_url=f"sqlite:///{tmp_path_factory.mktemp('portal-log')}/signet.db",
                **shared,
            ),
            ready_url=f"http://127.0.0.1:{ports['portal']}/readyz",
        ),
        "ingest": ServiceProcess(
            "ingest",
            env("ingest", port=ports["ingest"]),
            ready_url=f"http://127.0.0.1:{ports['ingest']}/readyz",
        ),
    }
    await asyncio.gather(*(p.start() for p in processes.values()))
    async with aiohttp.ClientSession() as http:
        try:
            yield Stack(
                ingest_url=f"http://127.0.0.1:{ports['ingest']}",
                portal_url=f"http://127.0.0.1:{ports['portal']}",
                operator_key=operator_key,
                http=http,
                processes=processes,
            )
        finally:
            await asyncio.gather(*(p.stop() for p in processes.values()))
