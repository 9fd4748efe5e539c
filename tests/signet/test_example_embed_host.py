"""The example host page (examples/embed-host/server.py) reuses the demo workspace it kept.

Restarts of ``signet up`` restore the portal's workspaces, so a host that created a demo
workspace at every start would pile them up. Its server runs here for real, against a
small real aiohttp server that plays the two portal routes it calls at start
(``GET /v1/workspaces/{id}``, ``POST /v1/workspaces``): the portal itself needs a broker,
and what is under test is the host's choice, not the portal.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from signet.dev.broker import free_port
from tests.eventually import eventually

SERVER = Path(__file__).parents[2] / "examples" / "embed-host" / "server.py"
OPERATOR_KEY = "sk_op_example_host_test"


def load_server() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_embed_host", SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


host = load_server()


class PortalStandIn:
    """The portal's workspace routes, counting calls; ``unavailable`` GETs answer 503 first,
    as a portal still catching up with its config does."""

    def __init__(self) -> None:
        self.workspaces: dict[str, str] = {}  # id → publishable key
        self.gets: list[str] = []
        self.creates = 0
        self.create_keys: list[str | None] = []  # the Idempotency-Key of each create
        self.unavailable = 0
        self.timeouts = 0  # creates to answer 504 (written, not yet applied)
        self.url = ""
        self._runner: web.AppRunner | None = None

    def _authorized(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {OPERATOR_KEY}":
            raise web.HTTPUnauthorized()

    async def get_workspace(self, request: web.Request) -> web.Response:
        self._authorized(request)
        workspace_id = request.match_info["workspace_id"]
        self.gets.append(workspace_id)
        if self.unavailable:
            self.unavailable -= 1
            return web.json_response({"title": "not caught up"}, status=503)
        if workspace_id not in self.workspaces:
            return web.json_response({"title": "not found"}, status=404)
        return web.json_response({"id": workspace_id, "name": "Casterly (example host)"})

    async def create_workspace(self, request: web.Request) -> web.Response:
        self._authorized(request)
        self.create_keys.append(request.headers.get("Idempotency-Key"))
        if self.timeouts:
            self.timeouts -= 1
            return web.json_response({"title": "not applied in time"}, status=504)
        self.creates += 1
        workspace_id = f"ws_{secrets.token_hex(6)}"
        self.workspaces[workspace_id] = f"pk_test_{secrets.token_hex(8)}"
        body = {"id": workspace_id, "publishable_key": self.workspaces[workspace_id]}
        return web.json_response(body, status=201)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/workspaces/{workspace_id}", self.get_workspace)
        app.router.add_post("/v1/workspaces", self.create_workspace)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def portal() -> AsyncIterator[PortalStandIn]:
    stand_in = PortalStandIn()
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()


def config(portal: PortalStandIn, state_file: Path, **env: str) -> Any:
    """The host's settings as ``signet up`` gives them: by environment."""
    return host.parse_config(
        [],
        {
            "SIGNET_PORTAL_URL": portal.url,
            "SIGNET_INGEST_URL": "http://127.0.0.1:9",  # never called at start
            "SIGNET_OPERATOR_KEY": OPERATOR_KEY,
            "HOST_STATE_FILE": str(state_file),
            "HOST_PORT": str(free_port()),
            **env,
        },
    )


async def start_host(settings: Any) -> str:
    """Start the host page, wait until it is ready, stop it; the workspace id it served."""
    runner = web.AppRunner(host.HostApp(settings).build())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    ready = f"http://127.0.0.1:{settings.port}/readyz"

    async def workspace_id() -> str | None:
        async with http.get(ready) as response:
            if response.status != 200:
                return None
            answer: dict[str, str] = await response.json()
            return answer["workspace_id"]

    try:
        async with aiohttp.ClientSession() as http:
            return await eventually(workspace_id, "the host page ready", 15)
    finally:
        await runner.cleanup()


def kept(state_file: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(state_file.read_text())
    return data


def kept_privately(state_file: Path) -> bool:
    """0600 (it holds a publishable key), and no temporary file left beside it."""
    alone = [p.name for p in state_file.parent.iterdir()] == [state_file.name]
    return alone and stat.S_IMODE(state_file.stat().st_mode) == 0o600


async def test_a_restarted_host_reuses_its_workspace(portal: PortalStandIn, tmp_path: Path) -> None:
    state_file = tmp_path / "embed-host.json"
    first = await start_host(config(portal, state_file))
    assert portal.creates == 1
    assert kept(state_file) == {"workspace_id": first, "publishable_key": portal.workspaces[first]}
    assert kept_privately(state_file)

    portal.unavailable = 1  # a portal still catching up is asked again, not replaced
    second = await start_host(config(portal, state_file))
    assert second == first
    assert portal.creates == 1
    assert portal.gets == [first, first]


async def test_a_create_that_timed_out_is_retried_with_the_same_idempotency_key(
    portal: PortalStandIn, tmp_path: Path
) -> None:
    """A 504 means the create may still apply: the retry carries the first try's key, so the
    portal makes one workspace, not two."""
    portal.timeouts = 2
    await start_host(config(portal, tmp_path / "embed-host.json"))
    first, *retries = portal.create_keys
    assert first is not None and first.startswith("demo-workspace-")
    assert retries == [first, first]
    assert portal.creates == 1

    await start_host(config(portal, tmp_path / "another-host.json"))
    assert portal.create_keys[-1] not in (None, first)  # another host start: another create


async def test_a_workspace_the_portal_forgot_is_replaced_and_the_file_rewritten(
    portal: PortalStandIn, tmp_path: Path
) -> None:
    state_file = tmp_path / "embed-host.json"
    state_file.write_text(json.dumps({"workspace_id": "ws_gone", "publishable_key": "pk_old"}))
    state_file.chmod(0o600)

    served = await start_host(config(portal, state_file))
    assert portal.gets == ["ws_gone"]  # 404: `signet up --fresh` forgot it
    assert portal.creates == 1
    assert served != "ws_gone"
    assert kept(state_file) == {
        "workspace_id": served,
        "publishable_key": portal.workspaces[served],
    }
    assert kept_privately(state_file)


async def test_explicit_settings_win_over_the_kept_workspace(
    portal: PortalStandIn, tmp_path: Path
) -> None:
    state_file = tmp_path / "embed-host.json"
    before = json.dumps({"workspace_id": "ws_kept", "publishable_key": "pk_kept"})
    state_file.write_text(before)
    settings = config(
        portal, state_file, SIGNET_WORKSPACE_ID="ws_mine", SIGNET_PUBLISHABLE_KEY="pk_mine"
    )
    assert settings.state_file == state_file

    assert await start_host(settings) == "ws_mine"
    assert (portal.gets, portal.creates) == ([], 0)
    assert state_file.read_text() == before


def test_the_state_file_is_a_flag_too_and_optional() -> None:
    env = {"SIGNET_OPERATOR_KEY": OPERATOR_KEY}
    flagged = host.parse_config(["--state-file", "/tmp/host.json"], env)  # noqa: S108
    assert flagged.state_file == Path("/tmp/host.json")  # noqa: S108
    assert host.parse_config([], env).state_file is None
    assert host.parse_config([], {**env, "HOST_STATE_FILE": ""}).state_file is None
