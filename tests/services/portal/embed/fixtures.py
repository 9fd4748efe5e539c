"""Fixtures of the embed's browser tests; a test module asks for them with

    pytest_plugins = ["tests.services.portal.embed.fixtures"]

- ``browser``: Debian's Chromium driven by Playwright (never a downloaded browser).
- ``embed_stack``: the e2e stack (``tests/e2e/conftest.py``) with a portal that knows its
  public URL.
- ``host_pages``: ``await start(workspace)`` runs ``examples/embed-host/server.py`` as a
  child process for that workspace, exactly as a SaaS would, and waits until it answers.
- ``verifying_receivers``: ``await make()`` starts a :class:`VerifyingReceiver`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect

from signet.dev.broker import free_port
from tests.e2e.conftest import Stack
from tests.processes import ServiceProcess
from tests.services.portal.embed.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CHROMIUM_INSTALLED,
    HOST_SERVER,
    HostPage,
    StartHost,
    VerifyingReceiver,
    wait_ready,
)

# What the browser waits for often crosses the whole pipeline (ingest → router → dispatcher
# → receiver → outcomes → the portal's log), which takes seconds when the suite runs its
# workers side by side on two cores; Playwright's default of 5 s is for page rendering.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_INSTALLED:
        message = "Chromium is not installed: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="module")
async def embed_stack(stack: Stack) -> AsyncIterator[Stack]:
    """The e2e stack, with a portal that knows its own public URL.

    The embed URL a host frames is built from ``SIGNET_PUBLIC_URL``; until the shared
    ``stack`` fixture sets it, the portal is restarted here with it (same settings else).
    """
    async with stack.http.get(f"{stack.portal_url}/openapi.json") as response:
        servers = (await response.json())["servers"]
    if servers[0]["url"] != stack.portal_url:
        old = stack.processes["portal"]
        await old.stop()
        env = {**old._env, "SIGNET_PUBLIC_URL": stack.portal_url}
        portal = ServiceProcess("portal", env, ready_url=f"{stack.portal_url}/readyz")
        await portal.start()
        stack.processes["portal"] = portal
    yield stack


@pytest.fixture
async def host_pages(embed_stack: Stack) -> AsyncIterator[StartHost]:
    """``await start(workspace)``: the example host embedding that workspace (a 201 body)."""
    started: list[HostPage] = []
    stack = embed_stack

    async def start(workspace: dict[str, Any], session_ttl_seconds: int = 900) -> HostPage:
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        log_fd, log_name = tempfile.mkstemp(prefix="signet-embed-host-", suffix=".log")
        log_path = Path(log_name)
        env = {
            **os.environ,
            "SIGNET_PORTAL_URL": stack.portal_url,
            "SIGNET_INGEST_URL": stack.ingest_url,
            "SIGNET_OPERATOR_KEY": stack.operator_key,
            "SIGNET_WORKSPACE_ID": workspace["id"],
            "SIGNET_PUBLISHABLE_KEY": workspace["publishable_key"],
            "HOST_PORT": str(port),
            "HOST_ORIGIN": origin,
            "HOST_SESSION_TTL_SECONDS": str(session_ttl_seconds),
        }
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(HOST_SERVER), env=env, stdout=log_fd, stderr=log_fd
            )
        finally:
            os.close(log_fd)
        host = HostPage(origin, origin, workspace["id"], process, log_path)
        started.append(host)
        await wait_ready(host)
        return host

    yield start
    for host in started:
        if host.process.returncode is None:
            host.process.terminate()
            await host.process.wait()


@pytest.fixture
async def verifying_receivers() -> AsyncIterator[Callable[[], Awaitable[VerifyingReceiver]]]:
    started: list[VerifyingReceiver] = []

    async def make() -> VerifyingReceiver:
        receiver = VerifyingReceiver()
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()
