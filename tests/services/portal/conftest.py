"""The portal against the real thing: the session broker, the router as a child process,
and the portal in-process on a free port, all under this module's topic prefix."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from signet_sdk.contract.fields import FieldErrorCode

from services.portal.app import PortalService
from signet.dev.broker import free_port
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.settings import CommonSettings, PortalSettings
from tests.processes import ServiceProcess, service_env

ROUTER_READY_TIMEOUT = 90.0


@dataclass(slots=True, frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return orjson.loads(self.text) if self.text else None

    def field_errors(self) -> dict[str, str]:
        """field → message; every error in the one shape, ``{"field", "code", "message"}``."""
        body = self.json
        errors = body.get("errors", [])
        for error in errors:
            assert set(error) == {"field", "code", "message"}, body
            assert error["code"] in {c.value for c in FieldErrorCode}, body
        return {e["field"]: e["message"] for e in errors}

    def field_codes(self) -> dict[str, str]:
        self.field_errors()
        return {e["field"]: e["code"] for e in self.json.get("errors", [])}


@dataclass(slots=True)
class PortalClient:
    base_url: str
    operator_key: str
    http: aiohttp.ClientSession
    # Every response body seen, to prove a secret was shown once and never again.
    seen: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        kwargs: dict[str, Any] = {"headers": sent}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.base_url + path, **kwargs) as response:
            text = await response.text()
            self.seen.append(text)
            return Answer(response.status, dict(response.headers), text)

    async def operator(self, method: str, path: str, body: Any = None) -> Answer:
        return await self.call(method, path, bearer=self.operator_key, body=body)

    async def workspace(self, token: str, method: str, path: str, body: Any = None) -> Answer:
        return await self.call(method, path, bearer=token, body=body)

    async def new_workspace(self, environment: str = "production") -> dict[str, Any]:
        answer = await self.operator(
            "POST", "/v1/workspaces", {"name": "Casterly", "environment": environment}
        )
        assert answer.status == 201, answer.text
        created: dict[str, Any] = answer.json
        return created

    async def session(self, workspace_id: str, role: str = "admin", **extra: Any) -> str:
        answer = await self.operator(
            "POST", "/v1/sessions", {"workspace_id": workspace_id, "role": role, **extra}
        )
        assert answer.status == 201, answer.text
        token: str = answer.json["token"]
        return token


@dataclass(slots=True, frozen=True)
class RunningPortal:
    service: PortalService
    client: PortalClient
    ring: MasterKeyRing
    master_keys: str
    settings: PortalSettings


def portal_settings(kafka: CommonSettings, **overrides: Any) -> PortalSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": kafka.kafka_bootstrap,
        "topic_prefix": kafka.topic_prefix,
        "partitions": kafka.partitions,
        "deliveries_partitions": kafka.deliveries_partitions,
        "host": "127.0.0.1",
        "port": free_port(),
        "public_url": "https://portal.example.com",
        "operator_key": base64.urlsafe_b64encode(os.urandom(24)).decode(),
        "master_keys": generate_master_key(),
        # Each portal its own delivery log, not the default .signet/signet.db of the cwd.
        "database_url": f"sqlite:///{tempfile.mkdtemp(prefix='signet-log-')}/signet.db",
        **overrides,
    }
    return PortalSettings(**values)


def router_process(kafka_settings: CommonSettings, data_dir: Path) -> ServiceProcess:
    """The router as a child process (not started)."""
    port = free_port()
    return ServiceProcess(
        "router",
        service_env(
            kafka_settings,
            web_port=port,
            data_dir=str(data_dir),
            consumer_session_timeout_seconds=6,
        ),
        ready_url=f"http://127.0.0.1:{port}/readyz",
        ready_timeout=ROUTER_READY_TIMEOUT,
    )


@pytest.fixture(scope="module")
async def router(
    kafka_settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    async with router_process(kafka_settings, tmp_path_factory.mktemp("router")) as process:
        yield process


@asynccontextmanager
async def running_portal(settings: PortalSettings) -> AsyncIterator[RunningPortal]:
    """The portal in-process on ``settings``, caught up with its topics, and its client."""
    service = PortalService(settings)
    async with service, aiohttp.ClientSession() as http:
        await service.wait_caught_up(30)
        client = PortalClient(
            f"http://127.0.0.1:{service.port}",
            settings.operator_key.get_secret_value(),
            http,
        )
        yield RunningPortal(
            service,
            client,
            MasterKeyRing.parse(settings.master_keys.get_secret_value()),
            settings.master_keys.get_secret_value(),
            settings,
        )


@pytest.fixture(scope="module")
async def portal(
    kafka_settings: CommonSettings, router: ServiceProcess
) -> AsyncIterator[RunningPortal]:
    async with running_portal(portal_settings(kafka_settings, command_timeout_seconds=20)) as up:
        yield up
