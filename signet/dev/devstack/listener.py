"""``signet listen``: a tiny local webhook receiver that shows whether each signature verifies.

For the walk-through and for trying Signet out, not for production. Each request is
printed as one summary line (event type, ``webhook-id``, the verdict) and its body;
with ``--secret whsec_…`` the Standard Webhooks signature is checked with
``signet_sdk.signing`` and an unverified request is answered 401, so a receiver that
rejects forgeries looks like it does in real life. ``/readyz`` answers 200 once it
listens.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from aiohttp import web
from rich.console import Console
from rich.text import Text
from signet_sdk.signing import standard_webhooks
from signet_sdk.signing.errors import SigningError
from signet_sdk.signing.headers import WEBHOOK_ID

from signet.dev.broker import free_port

BODY_PREVIEW_CHARS = 2000
MAX_BODY_BYTES = 1 << 20
_HEALTH_PATHS = frozenset({"/readyz", "/healthz"})


@dataclass(slots=True, frozen=True)
class Verdict:
    """``verified`` is None when there was no secret to check with."""

    verified: bool | None
    reason: str

    @property
    def accepted(self) -> bool:
        return self.verified is not False


def check_signature(
    secret: str | None, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Verdict:
    if not secret:
        return Verdict(None, "signature not checked (no --secret)")
    try:
        standard_webhooks.verify(secret, headers, body, now=now)
    except SigningError as exc:
        return Verdict(False, f"signature NOT verified: {exc}")
    return Verdict(True, "signature verified (standard-webhooks)")


def summarize(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """``POST /hook order.completed webhook-id=evt_…``: what arrived, in one line."""
    parts = [method, path]
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        parts.append(document["type"])
    lowered = {name.lower(): value for name, value in headers.items()}
    if WEBHOOK_ID in lowered:
        parts.append(f"{WEBHOOK_ID}={lowered[WEBHOOK_ID]}")
    return " ".join(parts)


def body_preview(body: bytes) -> str:
    text = body.decode(errors="replace")
    if len(text) > BODY_PREVIEW_CHARS:
        return f"{text[:BODY_PREVIEW_CHARS]}… ({len(body)} bytes)"
    return text


class Listener:
    """An aiohttp server on ``host:port`` that prints and checks every request."""

    def __init__(
        self, host: str, port: int, secret: str | None, console: Console | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._secret = secret
        self._console = console or Console(highlight=False)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/readyz", self._ready)
        app.router.add_get("/healthz", self._ready)
        app.router.add_route("*", "/{tail:.*}", self._receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self.port = self.port or free_port()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        where = f"http://{self.host}:{self.port}/"
        check = "checking standard-webhooks signatures" if self._secret else "no secret given"
        self._console.print(f"listening on {where} ({check})", soft_wrap=True)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _ready(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verdict = check_signature(self._secret, headers, body)
        mark, style = {True: ("✓", "green"), False: ("✗", "bold red"), None: ("·", "yellow")}[
            verdict.verified
        ]
        line = Text(summarize(request.method, request.path, headers, body) + "  ")
        line.append(f"{mark} {verdict.reason}", style=style)
        self._console.print(line, soft_wrap=True)
        self._console.print(Text("  " + body_preview(body), style="dim"), soft_wrap=True)
        if not verdict.accepted:
            return web.json_response({"error": verdict.reason}, status=401)
        return web.json_response({"received": True})


def run_listener(host: str, port: int, secret: str | None) -> int:
    """Serve until SIGINT or SIGTERM; the exit code of ``signet listen``."""

    async def serve() -> None:
        listener = Listener(host, port, secret)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await listener.start()
        try:
            await stop.wait()
        finally:
            await listener.stop()

    asyncio.run(serve())
    return 0
