"""POSTs one signed delivery and reports what happened, without ever raising for it.

One shared aiohttp session: no redirects followed, no cookies kept between tenants, no
proxy from the environment, connections made only through the SSRF guard's resolver (and,
when one is configured, tunnelled through the egress proxy: signet/security/egress.py).
Every way a request can end (answer, timeout, refused, reset, TLS, DNS) becomes an
:class:`AttemptResult` the response policy can judge.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping

import aiohttp

from services.dispatcher.results import AttemptResult, ErrorKind
from signet import __version__
from signet.errors import DestinationRefused
from signet.security.egress import EgressConnector, EgressProxy
from signet.security.ssrf import DestinationGuard

USER_AGENT = f"Signet/{__version__}"
MAX_TIMEOUTS = 256  # distinct ClientTimeout objects kept for reuse


class Sender:
    def __init__(
        self,
        guard: DestinationGuard,
        *,
        connect_timeout_seconds: float,
        excerpt_bytes: int,
        dns_cache_seconds: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        proxy: EgressProxy | None = None,
    ) -> None:
        self._guard = guard
        self._proxy = proxy
        self._connect_timeout = connect_timeout_seconds
        self._excerpt_bytes = excerpt_bytes
        self._dns_cache_seconds = dns_cache_seconds
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = EgressConnector(
            self._proxy,
            resolver=self._guard.resolver,
            # Concurrency is bounded by the consumer and the per-destination limiter.
            limit=0,
            use_dns_cache=self._dns_cache_seconds > 0,
            ttl_dns_cache=int(self._dns_cache_seconds) or None,
            ssl=self._ssl,
        )
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

    async def __aenter__(self) -> Sender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> AttemptResult:
        """``ssl_context``: the destination's own (its client certificate: mutual TLS)."""
        if self._session is None:
            raise RuntimeError("Sender.start() first")
        try:
            target = self._guard.check_url(url)
        except DestinationRefused as exc:
            return AttemptResult(error_kind=ErrorKind.REFUSED, error=str(exc))
        timeout = self._timeouts.get(timeout_seconds)
        if timeout is None:  # one per distinct destination timeout: usually a handful
            if len(self._timeouts) >= MAX_TIMEOUTS:
                self._timeouts.clear()
            timeout = self._timeouts[timeout_seconds] = aiohttp.ClientTimeout(
                total=timeout_seconds, sock_connect=min(self._connect_timeout, timeout_seconds)
            )
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            async with self._session.post(
                target,
                data=body,
                headers={"content-type": "application/json", **headers},
                allow_redirects=False,
                timeout=timeout,
                ssl=self._ssl if ssl_context is None else ssl_context,
            ) as response:
                excerpt = await self._excerpt(response)
                return AttemptResult(
                    http_status=response.status,
                    latency_ms=elapsed(),
                    response_excerpt=excerpt,
                    retry_after=response.headers.get("retry-after"),
                )
        except DestinationRefused as exc:
            return AttemptResult(error_kind=ErrorKind.REFUSED, error=str(exc))
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            phase = "connecting" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "waiting"
            return AttemptResult(
                error_kind=ErrorKind.TIMEOUT,
                error=f"timed out {phase} (limit {timeout_seconds:g}s)",
                latency_ms=elapsed(),
            )
        except aiohttp.ClientError as exc:
            kind, message = _describe(exc)
            return AttemptResult(error_kind=kind, error=message, latency_ms=elapsed())
        except (ValueError, UnicodeError) as exc:  # a URL aiohttp cannot send
            return AttemptResult(error_kind=ErrorKind.INVALID_URL, error=f"invalid URL: {exc}")

    async def _excerpt(self, response: aiohttp.ClientResponse) -> str:
        """The first bytes of the body; a body that stops short does not spoil the answer."""
        chunks = bytearray()
        try:
            while len(chunks) < self._excerpt_bytes:
                chunk = await response.content.read(self._excerpt_bytes - len(chunks))
                if not chunk:
                    break
                chunks += chunk
        except (TimeoutError, aiohttp.ClientError, asyncio.IncompleteReadError):
            pass
        return chunks.decode("utf-8", errors="replace")


def _describe(exc: aiohttp.ClientError) -> tuple[ErrorKind, str]:
    """Our error kind and a message without stack noise, from aiohttp's exception tree."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ErrorKind.DNS, f"DNS lookup failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ErrorKind.TLS, f"TLS certificate rejected: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return ErrorKind.TLS, f"TLS handshake failed: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ErrorKind.CONNECT, f"connection failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ErrorKind.RESET, "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientOSError):
        return ErrorKind.RESET, f"connection error: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return ErrorKind.INVALID_URL, f"invalid URL: {exc}"
    return ErrorKind.PROTOCOL, f"{type(exc).__name__}: {exc}"
