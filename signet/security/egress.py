"""The egress proxy: outbound webhooks and Slack posts leave through one forward proxy.

With ``SIGNET_EGRESS_PROXY_URL`` set (``http://[user:pass@]host:port``), every connection
the dispatcher and the alerter make to a customer's URL is a tunnel through that proxy,
unless ``SIGNET_EGRESS_NO_PROXY`` names the host.

The SSRF guard keeps its job (docs/architecture.md#ssrf-guard): Signet resolves the
destination's name itself, through the guard's resolver, and asks the proxy to
``CONNECT`` to the *address* it approved, for plain http too. The proxy never resolves
the name, so neither DNS rebinding nor a proxy that can see the private network can
turn a public name into a private address. TLS to the destination then runs inside the
tunnel with the URL's host name for SNI and the certificate check, and with the
request's own TLS context (a destination's client certificate, a pinned CA). The
proxy's own address is trusted configuration and is not checked: it is usually private.

Why a connector of our own rather than aiohttp's ``proxy=``: aiohttp sends plain http to
the proxy in absolute form (the proxy resolves the name and connects), and tunnels https
with ``CONNECT <name>:<port>`` (the proxy resolves it again). Neither connects to the
address the guard checked. :class:`EgressConnector` replaces only the step that opens a
connection (``TCPConnector._create_connection``); pooling, keep-alive, timeouts and the
guarded DNS cache stay aiohttp's. A pooled connection is a tunnel to one checked address.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import aiohttp
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from signet.errors import ConfigurationError
from signet.security.ssrf import IPAddress, Network, parse_ip_host

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.tracing import Trace

# The proxy's answer to CONNECT: a status line and headers, nothing else.
MAX_CONNECT_ANSWER_BYTES = 16 * 1024


class ProxyBypass:
    """``SIGNET_EGRESS_NO_PROXY``: the hosts reached directly (still through the SSRF guard).

    Comma-separated entries: ``*`` (every host), a host name (matches itself and every
    name under it; a leading dot is allowed), an IP address or a CIDR block (matched
    against a URL whose host is written as an address).
    """

    def __init__(self, spec: str) -> None:
        self.everything = False
        self._names: list[str] = []
        self._networks: list[Network] = []
        for raw in spec.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self._names.append(entry.lstrip(".").rstrip("."))

    def matches(self, host: str) -> bool:
        if self.everything:
            return True
        literal: IPAddress | None = parse_ip_host(host)
        if literal is not None:
            return any(literal in network for network in self._networks)
        name = host.lower().rstrip(".")
        return any(name == n or name.endswith("." + n) for n in self._names)


@dataclass(slots=True, frozen=True)
class EgressProxy:
    """Where the tunnels go, how to authenticate to it, and which hosts skip it."""

    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, from the URL's userinfo
    bypass: ProxyBypass

    def __repr__(self) -> str:  # never the credentials
        return f"EgressProxy({self.host}:{self.port})"

    @classmethod
    def from_settings(cls, url: str | None, no_proxy: str = "") -> EgressProxy | None:
        """The proxy ``url`` names; None when unset. A URL that cannot work refuses to start."""
        if not url:
            return None
        try:
            parsed = URL(url)
            port = parsed.port
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"SIGNET_EGRESS_PROXY_URL is not a URL: {exc}") from None
        if parsed.scheme != "http" or not parsed.raw_host or port is None:
            raise ConfigurationError(
                "SIGNET_EGRESS_PROXY_URL must be http://[user:password@]host:port"
            )
        if parsed.raw_path not in ("", "/") or parsed.raw_query_string:
            raise ConfigurationError("SIGNET_EGRESS_PROXY_URL has no path or query")
        authorization = None
        if parsed.raw_user is not None:
            pair = f"{unquote(parsed.raw_user)}:{unquote(parsed.raw_password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parsed.raw_host.strip("[]"), port, authorization, ProxyBypass(no_proxy))

    def carries(self, host: str) -> bool:
        """Whether a connection to ``host`` goes through the proxy."""
        return not self.bypass.matches(host)

    def connect_request(self, address: str, port: int) -> bytes:
        target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if self.authorization is not None:
            lines.append(f"Proxy-Authorization: {self.authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class _ConnectAnswer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; the tunnel's bytes belong to the next protocol."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.extra = False
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0:
            self.extra = end + 4 < len(self._buffer)  # the body of a refusal, or trouble
            self.answer.set_result(bytes(self._buffer[:end]))
        elif len(self._buffer) > MAX_CONNECT_ANSWER_BYTES:
            self.answer.set_exception(OSError("the egress proxy's CONNECT answer is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                exc or OSError("the egress proxy closed the connection during CONNECT")
            )


class EgressConnector(aiohttp.TCPConnector):
    """A TCPConnector that tunnels through ``proxy`` to the addresses its resolver approved.

    With ``proxy=None`` (or a host the bypass names) it is aiohttp's TCPConnector unchanged.
    """

    def __init__(self, proxy: EgressProxy | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proxy = proxy

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        host = req.url.raw_host
        if self._proxy is None or req.proxy is not None or not host:
            return await super()._create_connection(req, traces, timeout)
        if not self._proxy.carries(host):
            return await super()._create_connection(req, traces, timeout)
        port = req.port or (443 if req.is_ssl() else 80)
        # The guard's resolver: DestinationRefused for a private answer, before any CONNECT.
        answers = await self._resolve_host(host, port, traces=traces)
        last: Exception = aiohttp.ClientConnectorError(
            req.connection_key, OSError(f"{host} has no address")
        )
        for address in _unique(a["host"] for a in answers):
            try:
                return await self._tunnel(self._proxy, req, address, port, timeout)
            except aiohttp.ClientProxyConnectionError:
                raise  # the proxy itself is unreachable: another address will not help
            except aiohttp.ClientConnectorError as exc:
                last = exc
        raise last

    async def _tunnel(
        self,
        proxy: EgressProxy,
        req: ClientRequest,
        address: str,
        port: int,
        timeout: aiohttp.ClientTimeout,
    ) -> ResponseHandler:
        """A connection to ``address`` through the proxy, TLS inside it for https."""
        async with asyncio.timeout(timeout.sock_connect):
            transport = await self._open_tunnel(proxy, req, address, port)
            try:
                protocol = self._factory()
                sslcontext = self._get_ssl_context(req)
                if sslcontext is None:
                    transport.set_protocol(protocol)
                    protocol.connection_made(transport)
                    return protocol
                tls = await self._start_tls(transport, protocol, sslcontext, req)
                protocol.connection_made(tls)
                return protocol
            except BaseException:
                transport.abort()
                raise

    async def _open_tunnel(
        self, proxy: EgressProxy, req: ClientRequest, address: str, port: int
    ) -> asyncio.Transport:
        """Connects to the proxy and has it CONNECT to ``address``: the raw tunnel."""
        try:
            transport, answer = await asyncio.get_running_loop().create_connection(
                _ConnectAnswer, proxy.host, proxy.port
            )
        except OSError as exc:
            raise aiohttp.ClientProxyConnectionError(
                req.connection_key,
                OSError(f"egress proxy {proxy.host}:{proxy.port} unreachable: {exc}"),
            ) from exc
        try:
            transport.write(proxy.connect_request(address, port))
            try:
                head = await answer.answer
            except OSError as exc:
                raise aiohttp.ClientConnectorError(req.connection_key, exc) from exc
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or parts[1] != "200":
                said = " ".join(parts[1:]) if len(parts) > 1 else repr(status_line)
                raise aiohttp.ClientConnectorError(
                    req.connection_key,
                    OSError(f"the egress proxy answered {said} to CONNECT {address}:{port}"),
                )
            if answer.extra:  # the destination cannot have spoken first over TLS or HTTP
                raise aiohttp.ClientConnectorError(
                    req.connection_key, OSError("the egress proxy sent data after CONNECT")
                )
            return transport
        except BaseException:
            transport.abort()
            raise

    async def _start_tls(
        self,
        transport: asyncio.Transport,
        protocol: ResponseHandler,
        sslcontext: ssl.SSLContext,
        req: ClientRequest,
    ) -> asyncio.Transport:
        """TLS to the destination inside the tunnel: the URL's host for SNI and the check."""
        server_hostname = (req.server_hostname or req.url.raw_host or "").rstrip(".")
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport, protocol, sslcontext, server_hostname=server_hostname
            )
        except ssl.SSLCertVerificationError as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            raise aiohttp.ClientConnectorError(req.connection_key, exc) from exc
        if tls is None:
            raise aiohttp.ClientConnectorError(
                req.connection_key, OSError("the tunnel closed during the TLS handshake")
            )
        return tls


def _unique(addresses: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(addresses))
