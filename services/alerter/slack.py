"""Posts a message to a Slack incoming webhook, retrying within the alerter's budget.

A channel's URL is a bearer credential (anyone holding it can post), so it lives only in
:class:`SlackChannel` (hidden from ``repr``) and the request itself: every error, log
line and metric names the channel by destination id, name and host. Errors from aiohttp
are translated into our own with their text scrubbed of the URL.

Retry policy: 429 (waiting what ``Retry-After`` asks, clamped), 5xx, timeouts and
network errors are retried with exponential backoff and jitter, up to
``max_attempts``; any other answer (404 ``no_service`` for a revoked webhook, 403
``action_prohibited``, 400 ``invalid_payload``) is final at once. A 429 also holds the
whole channel back, so other alerts for it wait instead of hammering a rate limit.
Requests to one channel go one at a time: Slack allows about one message per second
per incoming webhook.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import orjson
from signet_sdk.retry_after import parse_retry_after
from yarl import URL

from services.alerter.errors import (
    AlerterError,
    ChannelUnusable,
    SlackGaveUp,
    SlackRejected,
    SlackUnavailable,
)
from services.alerter.messages import Message, url_host
from services.alerter.metrics import AlerterMetrics
from signet import __version__
from signet.backoff import Backoff
from signet.errors import DestinationRefused
from signet.security.egress import EgressConnector, EgressProxy
from signet.security.ssrf import DestinationGuard

logger = logging.getLogger(__name__)

USER_AGENT = f"Signet-Alerter/{__version__}"
EXCERPT_BYTES = 200
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class SlackChannel:
    """One Slack alert channel of a workspace, its URL already opened."""

    destination_id: str
    name: str
    url: str = field(repr=False)

    @property
    def host(self) -> str:
        return url_host(self.url) or "?"

    @property
    def label(self) -> str:
        return f"Slack channel {self.name!r} ({self.destination_id}, {self.host})"

    def scrub(self, text: str) -> str:
        """``text`` with this channel's URL, and its secret path and query, cut out."""
        try:
            parts = urlsplit(self.url)
            secrets = [
                self.url,
                parts.path,
                parts.query,
                parts.netloc if "@" in parts.netloc else "",
            ]
        except ValueError:
            secrets = [self.url]
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text


@dataclass(slots=True, frozen=True)
class RetryBudget:
    max_attempts: int = 6
    initial_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Wait after failed attempt ``attempt`` (1-based): doubling, ±20 % jitter."""
        base = Backoff(self.initial_backoff_seconds, self.max_backoff_seconds).delay(attempt)
        return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


@dataclass(slots=True)
class _Gate:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    not_before: float = 0.0  # monotonic: a 429's Retry-After holds the channel until then


class SlackSender:
    def __init__(
        self,
        guard: DestinationGuard,
        metrics: AlerterMetrics,
        *,
        budget: RetryBudget,
        timeout_seconds: float,
        sleep: Sleep = asyncio.sleep,
        proxy: EgressProxy | None = None,
    ) -> None:
        self._guard = guard
        self._proxy = proxy  # Slack is reached through the egress proxy when one is set
        self._metrics = metrics
        self._budget = budget
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, sock_connect=min(5.0, timeout_seconds)
        )
        self._sleep = sleep
        self._gates: dict[str, _Gate] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = EgressConnector(self._proxy, resolver=self._guard.resolver, limit=100)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, channel: SlackChannel, message: Message) -> int:
        """Deliver ``message``; the attempts it took, or SlackRejected / SlackGaveUp."""
        body = orjson.dumps(message)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._attempt(channel, body)
                return attempt
            except AlerterError as exc:
                self._metrics.slack_failures.labels(exc.kind).inc()
                if not exc.retriable:
                    raise
                if attempt >= self._budget.max_attempts:
                    raise SlackGaveUp(channel=channel.label, attempts=attempt, last=exc) from exc
                wait = self._wait_after(exc, attempt)
                logger.warning("%s; retry %d in %.1fs", exc, attempt, wait)
                await self._sleep(wait)

    def _wait_after(self, exc: AlerterError, attempt: int) -> float:
        retry_after = exc.retry_after_seconds if isinstance(exc, SlackUnavailable) else None
        if retry_after is not None:
            return min(retry_after, self._budget.max_retry_after_seconds)
        return self._budget.backoff(attempt)

    async def _attempt(self, channel: SlackChannel, body: bytes) -> None:
        session = self._session
        if session is None:
            raise RuntimeError("SlackSender.start() first")
        try:
            target = self._guard.check_url(channel.url)
        except DestinationRefused as exc:
            raise ChannelUnusable(channel.scrub(str(exc)), channel=channel.label) from None
        gate = self._gate(channel.destination_id)
        async with gate.lock:
            hold = gate.not_before - time.monotonic()
            if hold > 0:
                await self._sleep(hold)
            status, excerpt, retry_after = await self._request(session, channel, target, body)
            if status == 429:
                gate.not_before = time.monotonic() + min(
                    retry_after or 1.0, self._budget.max_retry_after_seconds
                )
        if 200 <= status < 300:
            return
        said = channel.scrub(f"answered HTTP {status}" + (f" {excerpt}" if excerpt else ""))
        if status == 429 or status >= 500:
            raise SlackUnavailable(
                said, channel=channel.label, status=status, retry_after_seconds=retry_after
            )
        raise SlackRejected(said, channel=channel.label, status=status)

    async def _request(
        self, session: aiohttp.ClientSession, channel: SlackChannel, target: URL, body: bytes
    ) -> tuple[int, str, float | None]:
        label = channel.label
        # Every `from None` below: aiohttp's exception text and context may spell the URL.
        try:
            async with session.post(
                target,
                data=body,
                headers={"content-type": "application/json"},
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                raw = await response.content.read(EXCERPT_BYTES)
                excerpt = raw.decode("utf-8", errors="replace").strip()
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                return response.status, excerpt, retry_after
        except DestinationRefused as exc:  # raised by the guarded resolver
            raise ChannelUnusable(channel.scrub(str(exc)), channel=label) from None
        except TimeoutError:
            raise SlackUnavailable("timed out", channel=label) from None
        except aiohttp.InvalidURL:
            raise ChannelUnusable("the webhook URL is not a valid URL", channel=label) from None
        except aiohttp.ClientError as exc:
            raise SlackUnavailable(channel.scrub(_describe(exc)), channel=label) from None
        except (ValueError, UnicodeError):
            raise ChannelUnusable("the webhook URL cannot be sent to", channel=label) from None

    def _gate(self, destination_id: str) -> _Gate:
        gate = self._gates.get(destination_id)
        if gate is None:
            if len(self._gates) > 10_000:  # forget idle channels now and then
                now = time.monotonic()
                self._gates = {
                    k: g for k, g in self._gates.items() if g.lock.locked() or g.not_before > now
                }
            gate = self._gates[destination_id] = _Gate()
        return gate


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The egress proxy's errors are sentences of their own (signet/security/egress.py).
        said = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return f"connection failed: {said}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Slack closed the connection without answering"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection error: {exc.strerror or type(exc).__name__}"
    return type(exc).__name__
