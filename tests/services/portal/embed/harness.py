"""What the embed's browser tests share besides fixtures (those are in ``fixtures.py``):
where Chromium and the example host are, the running host page, a receiver that verifies
signatures, a host page opened in Chromium with the embed inside it, screenshots.

:class:`VerifyingReceiver` is a real aiohttp receiver: it verifies the Standard Webhooks
signature of every request with the official library and says so in its answer ("signature
verified"), which the delivery log then shows as the response excerpt; scripted failures
on demand.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import standardwebhooks
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from playwright.async_api import Browser, FrameLocator, Page, expect

from signet.dev.broker import free_port
from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[4]
HOST_SERVER = ROOT / "examples" / "embed-host" / "server.py"
SCREENSHOTS = ROOT / "docs" / "images"
CHROMIUM = Path("/usr/bin/chromium")
# What works offline and as root in a container; no component updates, no QUIC probes.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM_INSTALLED = CHROMIUM.exists()


# -- the example host page ------------------------------------------------------------------


@dataclass(slots=True)
class HostPage:
    """One running example host server, embedding one workspace."""

    url: str
    origin: str
    workspace_id: str
    process: asyncio.subprocess.Process
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


async def wait_ready(host: HostPage, timeout: float = 30.0) -> None:
    async with aiohttp.ClientSession() as http:

        async def ready() -> bool:
            if host.process.returncode is not None:
                raise AssertionError(f"the example host exited:\n{host.output()}")
            try:
                async with http.get(host.url + "/readyz") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(
            ready, lambda: f"the example host did not start:\n{host.output()}", timeout
        )


StartHost = Callable[..., Awaitable[HostPage]]


# -- a receiver that verifies signatures ----------------------------------------------------


def verify_ed25519(public_key: str, body: bytes, headers: dict[str, str]) -> bool:
    """Standard Webhooks ``v1a`` checked with ``cryptography`` alone (no Signet code)."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for entry in headers.get("webhook-signature", "").split():
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), signed)
        except InvalidSignature:
            continue
        return True
    return False


@dataclass(slots=True)
class Verified:
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass(slots=True)
class VerifyingReceiver:
    """Answers 200 "signature verified" when a secret it knows verifies the request."""

    secrets: list[str] = field(default_factory=list)  # whsec_ (HMAC)
    public_keys: list[str] = field(default_factory=list)  # whpk_ (Ed25519)
    failures: list[int] = field(default_factory=list)  # statuses to answer first, in order
    requests: list[Verified] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/orders"

    def verifies(self, body: bytes, headers: dict[str, str]) -> bool:
        if any(verify_ed25519(key, body, headers) for key in self.public_keys):
            return True
        for secret in self.secrets:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
            except standardwebhooks.WebhookVerificationError:
                continue
            return True
        return False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = self.verifies(body, headers)
        async with self.arrived:
            self.requests.append(Verified(headers, body, verified))
            self.arrived.notify_all()
        if self.failures:
            status = self.failures.pop(0)
            return web.Response(text="temporarily unavailable", status=status)
        if not verified:
            return web.Response(text="signature mismatch", status=401)
        return web.Response(text="signature verified")

    async def wait_for(self, count: int, timeout: float = 60.0) -> list[Verified]:
        async with self.arrived:
            try:
                await asyncio.wait_for(
                    self.arrived.wait_for(lambda: len(self.requests) >= count), timeout
                )
            except TimeoutError:
                pytest.fail(f"receiver got {len(self.requests)} of {count} requests in {timeout}s")
        return list(self.requests)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass(slots=True)
class EmbeddedPage:
    """A host page in Chromium with the embed inside it.

    Uncaught script errors and CSP violations (in any frame) are collected as they happen
    and fail the test when the page is closed.
    """

    page: Page
    frame: FrameLocator
    host: HostPage
    problems: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> None:
        """A screenshot of the embed alone (docs/images/<name>.png)."""
        await self.page.locator("#signet-frame").screenshot(path=screenshot_path(name))

    async def close(self) -> None:
        await self.page.context.close()
        assert self.problems == [], self.problems


async def open_embedded(
    browser: Browser, host: HostPage, query: str = "", *, ready: bool = True
) -> EmbeddedPage:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    embedded = EmbeddedPage(page, page.frame_locator("#signet-frame"), host)
    page.on("pageerror", lambda error: embedded.problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            embedded.problems.append(f"CSP: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    await page.goto(host.url + "/" + query)
    if ready:  # the workspace loaded: the token arrived and the API answered
        await expect(embedded.frame.locator("body.ready")).to_have_count(1)
    return embedded


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
