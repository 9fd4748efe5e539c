"""The egress proxy against a real forward proxy (proxy.py) on loopback.

The proxy records every request it takes (tests/signet/security/proxy_recorder.py); the
receivers record the connection each request came on. A delivery went through the
proxy when the proxy was asked to CONNECT to the receiver's *address* (never its name)
and the receiver saw no more connections than the proxy opened for it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from services.alerter.errors import SlackGaveUp
from services.alerter.metrics import AlerterMetrics
from services.alerter.slack import RetryBudget, SlackChannel, SlackSender
from services.dispatcher.results import ErrorKind
from services.dispatcher.sender import Sender
from signet.dev.broker import free_port
from signet.errors import ConfigurationError
from signet.security.egress import EgressConnector, EgressProxy, ProxyBypass
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from tests.certificates import certificate
from tests.forward_proxy import ForwardProxy, start_forward_proxy
from tests.services.dispatcher.dns import ScriptedResolver

DEV = DestinationPolicy(allow_insecure=True, allow_private=True)


# --- the proxy -------------------------------------------------------------------------

StartProxy = Callable[..., Awaitable[ForwardProxy]]


@pytest.fixture
async def start_proxy(tmp_path: Path) -> AsyncIterator[StartProxy]:
    """Starts proxy.py on loopback (``port``: a given one; ``basic_auth``: user:pass)."""
    started: list[ForwardProxy] = []

    async def start(basic_auth: str | None = None, port: int = 0) -> ForwardProxy:
        proxy = await start_forward_proxy(tmp_path, port=port, basic_auth=basic_auth)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        await proxy.stop()


# --- receivers that remember the connection of every request ---------------------------


@dataclass(slots=True)
class Seen:
    port: int = 0
    hosts: list[str] = field(default_factory=list)  # Host header of every request
    peers: set[int] = field(default_factory=set)  # client port: one per connection
    server_names: list[str] = field(default_factory=list)  # SNI of every TLS handshake
    bodies: list[bytes] = field(default_factory=list)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Seen]]]:
    """Starts a receiver on loopback; ``tls=True`` serves https for ``receiver.test``."""
    runners: list[web.AppRunner] = []

    async def start(*, tls: bool = False) -> Seen:
        seen = Seen()

        async def handle(request: web.Request) -> web.Response:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            seen.peers.add(peer[1] if peer else -1)
            seen.hosts.append(request.headers["Host"])
            seen.bodies.append(await request.read())
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        seen.port = free_port()
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate(tmp_path, "receiver.test"))

            def remember_sni(_s: ssl.SSLObject, name: str | None, _c: ssl.SSLContext) -> None:
                seen.server_names.append(name or "")

            context.sni_callback = remember_sni
        await web.TCPSite(runner, "127.0.0.1", seen.port, ssl_context=context).start()
        return seen

    yield start
    for runner in runners:
        await runner.cleanup()


def sender_for(
    proxy_url: str,
    no_proxy: str = "",
    *,
    policy: DestinationPolicy = DEV,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[Sender, ScriptedResolver]:
    dns = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    sender = Sender(
        DestinationGuard(policy, dns),
        connect_timeout_seconds=2.0,
        excerpt_bytes=100,
        ssl_context=ssl_context,
        proxy=EgressProxy.from_settings(proxy_url, no_proxy),
    )
    return sender, dns


# --- deliveries ------------------------------------------------------------------------


async def test_http_deliveries_are_tunnelled_to_the_checked_address(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    proxy = await start_proxy()
    receiver = await serve()
    sender, dns = sender_for(proxy.url())
    url = f"http://receiver.test:{receiver.port}/hook"
    async with sender:
        results = [await sender.send(url, b'{"n":%d}' % n, {}, timeout_seconds=5) for n in range(3)]
    assert [r.http_status for r in results] == [200, 200, 200], results
    assert receiver.bodies == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    # CONNECT even for plain http, to the address Signet resolved: the proxy never sees
    # the name (it could not resolve receiver.test anyway).
    connects = proxy.connects_to(receiver.port)
    assert connects and set(connects) == {f"127.0.0.1:{receiver.port}"}
    assert {s["method"] for s in proxy.seen()} == {"CONNECT"}
    # every connection the receiver saw is one the proxy opened for it
    assert 1 <= len(receiver.peers) <= len(connects)
    assert receiver.hosts == [f"receiver.test:{receiver.port}"] * 3
    assert dns.lookups == ["receiver.test"]


async def test_https_runs_tls_inside_the_tunnel_with_the_urls_host(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]], tmp_path: Path
) -> None:
    proxy = await start_proxy()
    receiver = await serve(tls=True)
    trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    sender, _ = sender_for(
        proxy.url(), policy=DestinationPolicy(allow_private=True), ssl_context=trust
    )
    async with sender:
        result = await sender.send(
            f"https://receiver.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
        # a client without the receiver's CA: the certificate is checked inside the tunnel
        untrusting, _ = sender_for(proxy.url(), policy=DestinationPolicy(allow_private=True))
        async with untrusting:
            refused = await untrusting.send(
                f"https://receiver.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
            )
    assert result.http_status == 200, result
    assert receiver.server_names[0] == "receiver.test"
    assert receiver.hosts == [f"receiver.test:{receiver.port}"]
    assert refused.error_kind is ErrorKind.TLS, refused
    assert proxy.connects_to(receiver.port) == [f"127.0.0.1:{receiver.port}"] * 2
    assert len(receiver.peers) == 1


async def test_a_per_request_tls_context_is_used_inside_the_tunnel(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]], tmp_path: Path
) -> None:
    """A destination's own TLS context (mTLS, a pinned CA) reaches the tunnel's handshake."""
    proxy = await start_proxy()
    receiver = await serve(tls=True)
    proxy_only = EgressProxy.from_settings(proxy.url())
    dns = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    guard = DestinationGuard(DestinationPolicy(allow_private=True), dns)
    pinned = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    async with (
        aiohttp.ClientSession(
            connector=EgressConnector(proxy_only, resolver=guard.resolver)
        ) as session,
        session.post(
            f"https://receiver.test:{receiver.port}/hook", data=b"{}", ssl=pinned
        ) as response,
    ):
        assert response.status == 200
    assert proxy.connects_to(receiver.port) == [f"127.0.0.1:{receiver.port}"]


async def test_no_proxy_hosts_are_reached_directly(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    proxy = await start_proxy()
    receiver = await serve()
    sender, _ = sender_for(proxy.url(), "example.com, .test")
    async with sender:
        result = await sender.send(
            f"http://receiver.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
    assert result.http_status == 200
    assert proxy.seen() == []


async def test_proxy_credentials_come_from_the_url(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    proxy = await start_proxy(basic_auth="signet:s3cr%t")
    receiver = await serve()
    url = f"http://receiver.test:{receiver.port}/hook"
    good, _ = sender_for(proxy.url("signet:s3cr%25t"))  # percent-encoded in the URL
    bad, _ = sender_for(proxy.url("signet:wrong"))
    async with good, bad:
        accepted = await good.send(url, b"{}", {}, timeout_seconds=5)
        refused = await bad.send(url, b"{}", {}, timeout_seconds=5)
    assert accepted.http_status == 200, accepted
    assert refused.error_kind is ErrorKind.CONNECT
    assert refused.error is not None and "407" in refused.error, refused
    assert "wrong" not in refused.error
    assert len(receiver.bodies) == 1


async def test_a_private_answer_is_refused_before_any_connect(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    """The proxy itself is on loopback (configuration); a destination there is not."""
    proxy = await start_proxy()
    receiver = await serve()
    sender, _ = sender_for(proxy.url(), policy=DestinationPolicy(allow_insecure=True))
    async with sender:
        by_name = await sender.send(
            f"http://receiver.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
        by_address = await sender.send(
            f"http://127.0.0.1:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
    for result in (by_name, by_address):
        assert result.error_kind is ErrorKind.REFUSED, result
        assert result.error is not None and "loopback" in result.error
    assert proxy.seen() == []
    assert receiver.bodies == []


async def test_rebinding_cannot_steer_the_tunnel(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    """The proxy is asked for the address that was checked, never a later DNS answer."""
    proxy = await start_proxy()
    receiver = await serve()
    dns = ScriptedResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    sender = Sender(
        DestinationGuard(DestinationPolicy(allow_insecure=True), dns),
        connect_timeout_seconds=1.0,
        excerpt_bytes=100,
        dns_cache_seconds=0,
        proxy=EgressProxy.from_settings(proxy.url()),
    )
    async with sender:
        result = await sender.send(
            f"http://rebind.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=1
        )
    assert result.http_status is None  # the sandbox cannot reach the public address
    assert dns.lookups == ["rebind.test"]
    assert proxy.connects_to(receiver.port) == [f"93.184.216.34:{receiver.port}"]
    assert receiver.bodies == []


async def test_a_proxy_that_is_down_fails_the_attempt_and_the_retry_gets_through(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    receiver = await serve()
    port = free_port()
    sender, _ = sender_for(f"http://127.0.0.1:{port}")
    url = f"http://receiver.test:{receiver.port}/hook"
    async with sender:
        down = await sender.send(url, b"{}", {}, timeout_seconds=5)
        proxy = await start_proxy(port=port)  # the proxy is back: the same sender goes on
        retried = await sender.send(url, b"{}", {}, timeout_seconds=5)
    assert down.http_status is None and down.error_kind is ErrorKind.CONNECT, down
    assert down.error is not None and f"egress proxy 127.0.0.1:{port} unreachable" in down.error
    assert retried.http_status == 200, retried
    assert proxy.connects_to(receiver.port) == [f"127.0.0.1:{receiver.port}"]


# --- Slack -----------------------------------------------------------------------------


async def test_slack_posts_go_through_the_proxy(
    start_proxy: StartProxy, serve: Callable[..., Awaitable[Seen]]
) -> None:
    proxy = await start_proxy()
    slack = await serve()

    async def no_wait(_seconds: float) -> None:
        return None

    sender = SlackSender(
        DestinationGuard(DEV),
        AlerterMetrics(),
        budget=RetryBudget(max_attempts=1),
        timeout_seconds=5,
        sleep=no_wait,
        proxy=EgressProxy.from_settings(proxy.url()),
    )
    await sender.start()
    try:
        channel = SlackChannel("dst_1", "alerts", f"http://127.0.0.1:{slack.port}/services/T/B/x")
        assert await sender.post(channel, {"text": "hello"}) == 1
    finally:
        await sender.stop()
    assert [orjson.loads(b) for b in slack.bodies] == [{"text": "hello"}]
    assert proxy.connects_to(slack.port) == [f"127.0.0.1:{slack.port}"]


async def test_a_slack_post_while_the_proxy_is_down_is_retried_then_given_up(
    serve: Callable[..., Awaitable[Seen]],
) -> None:
    slack = await serve()
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    port = free_port()
    sender = SlackSender(
        DestinationGuard(DEV),
        AlerterMetrics(),
        budget=RetryBudget(max_attempts=2),
        timeout_seconds=5,
        sleep=wait,
        proxy=EgressProxy.from_settings(f"http://127.0.0.1:{port}"),
    )
    await sender.start()
    try:
        channel = SlackChannel("dst_1", "alerts", f"http://127.0.0.1:{slack.port}/services/T/B/x")
        with pytest.raises(SlackGaveUp) as raised:
            await sender.post(channel, {"text": "hello"})
    finally:
        await sender.stop()
    assert len(waits) == 1  # one retry, then the budget is spent
    assert f"egress proxy 127.0.0.1:{port} unreachable" in str(raised.value)
    assert "/services/T/B/x" not in str(raised.value)
    assert slack.bodies == []


# --- settings --------------------------------------------------------------------------


def test_the_proxy_url_and_its_credentials() -> None:
    proxy = EgressProxy.from_settings("http://user:p%40ss@proxy.internal:3128")
    assert proxy is not None
    assert (proxy.host, proxy.port) == ("proxy.internal", 3128)
    assert proxy.authorization == "Basic dXNlcjpwQHNz"  # base64 of user:p@ss
    assert "p@ss" not in repr(proxy) and "dXNlcjpwQHNz" not in repr(proxy)
    request = proxy.connect_request("2001:db8::1", 443)
    assert request.startswith(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n")
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz\r\n\r\n" in request
    assert EgressProxy.from_settings(None) is None
    assert EgressProxy.from_settings("") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy:3128",
        "socks5://proxy:1080",
        "http://proxy:3128/path",
        "proxy:3128",
        "http://:3128",
    ],
)
def test_a_proxy_url_that_cannot_work_refuses_to_start(url: str) -> None:
    with pytest.raises(ConfigurationError, match="SIGNET_EGRESS_PROXY_URL"):
        EgressProxy.from_settings(url)


def test_no_proxy_matching() -> None:
    bypass = ProxyBypass(" internal.example , .corp, 10.0.0.0/8, 2001:db8::1 ")
    assert bypass.matches("internal.example") and bypass.matches("a.internal.example")
    assert bypass.matches("corp") and bypass.matches("hooks.corp.")
    assert not bypass.matches("notinternal.example") and not bypass.matches("corp.com")
    assert bypass.matches("10.1.2.3") and bypass.matches("[2001:db8::1]")
    assert not bypass.matches("11.0.0.1") and not bypass.matches("example.com")
    assert ProxyBypass("*").matches("anything.example")
    assert not ProxyBypass("").matches("anything.example")
