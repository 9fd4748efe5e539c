"""schemathesis against the portal's own ``/openapi.json``: no generated request, valid or
not, gets a 5xx. The portal runs as a child process (real broker, real router); operator
routes are called with the operator key, workspace routes with an admin session."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from signet.dev.broker import free_port
from signet.security.secrets import generate_master_key
from signet.settings import CommonSettings
from tests.openapi_fuzz import schemathesis as run_schemathesis
from tests.processes import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(900)

OPERATOR_ROUTES = r"^/v1/(workspaces|sessions)"
WORKSPACE_ROUTES = r"^/v1/workspace(/|$)"
PUBLIC_ROUTES = r"^/(healthz|readyz|metrics|openapi\.json|v1/log-signing-key)$"


@dataclass(slots=True, frozen=True)
class FuzzTarget:
    url: str
    operator_key: str
    process: ServiceProcess


@pytest.fixture(scope="module")
async def target(
    kafka_settings: CommonSettings, router: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzTarget]:
    port = free_port()
    operator_key = base64.urlsafe_b64encode(os.urandom(24)).decode()
    url = f"http://127.0.0.1:{port}"
    env = service_env(
        kafka_settings,
        host="127.0.0.1",
        port=port,
        public_url=url,
        operator_key=operator_key,
        master_keys=generate_master_key(),
        database_url=f"sqlite:///{tmp_path_factory.mktemp('fuzz-log')}/signet.db",
        allow_insecure_destinations=True,
        # No dispatcher runs here: a test event answers 202 (pending) quickly.
        test_event_timeout_seconds=0.5,
        command_timeout_seconds=20,
        log_consumer_session_timeout_seconds=6,
    )
    async with ServiceProcess("portal", env, ready_url=f"{url}/readyz") as process:
        yield FuzzTarget(url, operator_key, process)


async def admin_token(target: FuzzTarget) -> str:
    headers = {"Authorization": f"Bearer {target.operator_key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            target.url + "/v1/workspaces", json={"name": "Fuzz", "environment": "staging"}
        ) as response:
            assert response.status == 201, await response.text()
            workspace = await response.json()
        async with http.post(
            target.url + "/v1/sessions",
            json={"workspace_id": workspace["id"], "role": "admin", "ttl_seconds": 3600},
        ) as response:
            assert response.status == 201, await response.text()
            token: str = (await response.json())["token"]
            return token


async def schemathesis(target: FuzzTarget, report: Path, *args: str) -> tuple[int, str]:
    return await run_schemathesis(target.url, report, *args)


def no_server_errors(code: int, out: str, target: FuzzTarget) -> None:
    tail = out[-6000:]
    assert code == 0, (
        f"schemathesis found problems:\n{tail}\n--- portal log:\n{target.process.output()}"
    )
    # What the problem middleware logs for any exception a handler did not expect.
    assert "unhandled error on" not in target.process.output(), target.process.output()


async def test_operator_routes(target: FuzzTarget, tmp_path: Path) -> None:
    code, out = await schemathesis(
        target,
        tmp_path,
        "--include-path-regex",
        OPERATOR_ROUTES,
        "--header",
        f"Authorization: Bearer {target.operator_key}",
    )
    no_server_errors(code, out, target)


async def test_workspace_routes(target: FuzzTarget, tmp_path: Path) -> None:
    token = await admin_token(target)
    code, out = await schemathesis(
        target,
        tmp_path,
        "--include-path-regex",
        WORKSPACE_ROUTES,
        "--header",
        f"Authorization: Bearer {token}",
    )
    no_server_errors(code, out, target)


async def test_public_routes(target: FuzzTarget, tmp_path: Path) -> None:
    code, out = await schemathesis(target, tmp_path, "--include-path-regex", PUBLIC_ROUTES)
    no_server_errors(code, out, target)
