"""The runnable examples in ``examples/`` run: the emitters against the real ingest, the
receivers against signatures made by the dispatcher's signing code."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
from aiohttp import web
from signet_sdk.signing import generate_secret, sign_delivery

from services.ingest.app import IngestApp
from signet.dev.broker import free_port
from signet.verify import InMemoryReplayCache, WebhookVerifier
from tests.services.ingest.conftest import (  # noqa: F401 - fixtures
    Workspaces,
    ingest,
    ingest_settings,
    workspaces,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
BODY = b'{"id":"evt_1","type":"order.completed","resource":"order","resource_id":"o","data":{}}'


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run_example(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / argv[0]),
        *argv[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_the_emitters_emit(
    ingest: IngestApp,  # noqa: F811
    workspaces: Workspaces,  # noqa: F811
) -> None:
    workspace = await workspaces.create()
    code, output = await run_example("emit_events.py", "--key", workspace.key, "--url", ingest.url)
    assert code == 0, output
    assert "emitted evt_" in output
    assert output.count(": accepted evt_") == 3
    code, output = await run_example(
        "emit_events_async.py", "--key", workspace.key, "--url", ingest.url, "--count", "5"
    )
    assert code == 0, output
    assert "emitted 5 events" in output


def signed(secret: str, msg_id: str = "evt_1") -> dict[str, str]:
    return sign_delivery("standard-webhooks", [secret], msg_id, int(time.time()), BODY)


async def test_the_aiohttp_receiver_verifies_and_deduplicates() -> None:
    secret = generate_secret("standard-webhooks").secret
    example = load("receiver_aiohttp")
    verifier = WebhookVerifier(secret, replay_cache=InMemoryReplayCache())
    runner = web.AppRunner(example.build_app(verifier))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/hook"
    try:
        async with aiohttp.ClientSession() as http:
            answers = []
            forged = signed(generate_secret("standard-webhooks").secret, "evt_2")
            for headers in (signed(secret), signed(secret), forged):
                async with http.post(url, data=BODY, headers=headers) as response:
                    answers.append((response.status, await response.text()))
    finally:
        await runner.cleanup()
    assert answers[0] == (200, "ok")
    assert answers[1] == (200, "already processed")
    assert answers[2][0] == 400


def test_the_wsgi_receiver_verifies() -> None:
    secret = generate_secret("standard-webhooks").secret
    example = load("receiver_wsgi")
    app = example.make_app(WebhookVerifier(secret))
    statuses: list[str] = []

    def call(headers: dict[str, str]) -> bytes:
        environ: dict[str, Any] = {
            "CONTENT_LENGTH": str(len(BODY)),
            "wsgi.input": io.BytesIO(BODY),
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
        }
        return b"".join(app(environ, lambda status, _headers: statuses.append(status)))

    assert call(signed(secret)) == b"ok"
    assert call(signed(generate_secret("standard-webhooks").secret)).startswith(b"refused")
    assert statuses == ["200 OK", "400 Bad Request"]
