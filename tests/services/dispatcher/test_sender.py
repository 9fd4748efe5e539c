"""The sender against real aiohttp receivers: answers, excerpts, timeouts, SSRF, TLS."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.dispatcher.results import ErrorKind
from services.dispatcher.sender import USER_AGENT, Sender
from signet.dev.broker import free_port
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from tests.receiver import Receiver, Reply
from tests.services.dispatcher.dns import ScriptedResolver

MakeReceiver = Callable[[], Awaitable[Receiver]]
DEV = DestinationPolicy(allow_insecure=True, allow_private=True)


def sender_for(
    policy: DestinationPolicy = DEV,
    resolver: ScriptedResolver | None = None,
    *,
    connect_timeout_seconds: float = 2.0,
    dns_cache_seconds: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> Sender:
    return Sender(
        DestinationGuard(policy, resolver),
        connect_timeout_seconds=connect_timeout_seconds,
        excerpt_bytes=4096,
        dns_cache_seconds=dns_cache_seconds,
        ssl_context=ssl_context,
    )


async def test_a_delivery_and_its_answer(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=202, body=b"x" * 10_000, headers={"Retry-After": "7"}))
    async with sender_for() as sender:
        result = await sender.send(
            receiver.url, b'{"a":1}', {"webhook-id": "evt_1"}, timeout_seconds=5
        )
    assert result.http_status == 202 and result.error is None
    assert result.response_excerpt == "x" * 4096
    assert result.retry_after == "7"
    assert result.latency_ms is not None and result.latency_ms > 0
    (request,) = receiver.requests
    assert request.method == "POST" and request.body == b'{"a":1}'
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT == "Signet/0.1.0"
    assert request.headers["webhook-id"] == "evt_1"
    assert "Cookie" not in request.headers


async def test_redirects_are_not_followed(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=302, headers={"Location": receiver.url + "/elsewhere"}))
    async with sender_for() as sender:
        result = await sender.send(receiver.url, b"{}", {}, timeout_seconds=5)
    assert result.http_status == 302
    assert len(receiver.requests) == 1


async def test_a_hanging_receiver_times_out(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(delay_seconds=2))  # answers 200, but only after the timeout
    async with sender_for() as sender:
        result = await sender.send(receiver.url, b"{}", {}, timeout_seconds=0.5)
    assert result.http_status is None
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.error is not None and "timed out" in result.error


async def test_a_slow_body_is_cut_at_the_timeout_and_keeps_the_answer(
    make_receiver: MakeReceiver,
) -> None:
    """Status and headers came in time, the body trickles: the attempt ends at the
    timeout (it would take minutes otherwise) with the status and what arrived."""
    receiver = await make_receiver()
    receiver.script(
        Reply(status=200, body=b"x" * 4000, body_chunk_bytes=10, body_chunk_delay_seconds=0.2)
    )
    async with sender_for() as sender:
        result = await sender.send(receiver.url, b"{}", {}, timeout_seconds=1)
    assert result.http_status == 200
    assert result.response_excerpt is not None and 0 < len(result.response_excerpt) < 4000


async def test_a_receiver_that_never_answers_times_out(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    receiver.default = Reply(hang=True)
    async with sender_for() as sender:
        result = await sender.send(receiver.url, b"{}", {}, timeout_seconds=0.5)
    assert result.error_kind is ErrorKind.TIMEOUT and result.http_status is None
    assert receiver.in_progress == 1  # still hanging on its side
    receiver.release()


async def test_resets_and_refused_connections(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(reset=True))
    async with sender_for() as sender:
        reset = await sender.send(receiver.url, b"{}", {}, timeout_seconds=5)
        closed = await sender.send(
            f"http://127.0.0.1:{free_port()}/hook", b"{}", {}, timeout_seconds=5
        )
    assert reset.http_status is None and reset.error_kind is ErrorKind.RESET
    assert closed.error_kind is ErrorKind.CONNECT
    assert closed.error is not None and "connection failed" in closed.error


async def test_refused_destinations_get_no_request(make_receiver: MakeReceiver) -> None:
    receiver = await make_receiver()
    dns = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    async with sender_for(DestinationPolicy(allow_insecure=True), dns) as strict:
        by_ip = await strict.send(receiver.url, b"{}", {}, timeout_seconds=5)
        by_name = await strict.send(
            f"http://receiver.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
        by_number = await strict.send(
            f"http://0x7f.1:{receiver.port}/hook", b"{}", {}, timeout_seconds=5
        )
    async with sender_for(DestinationPolicy()) as https_only:
        plain = await https_only.send("http://example.com/hook", b"{}", {}, timeout_seconds=5)
    for result in (by_ip, by_name, by_number):
        assert result.error_kind is ErrorKind.REFUSED, result
        assert result.error is not None and "loopback" in result.error
    assert by_name.error is not None and "receiver.test resolves to" in by_name.error
    assert plain.error_kind is ErrorKind.REFUSED
    assert receiver.requests == []


async def test_rebinding_to_loopback_after_a_public_answer(make_receiver: MakeReceiver) -> None:
    """DNS rebinding: the address checked is the address connected to, never a later one."""
    receiver = await make_receiver()
    # TEST-NET addresses are refused as reserved, so the "public" first answer is a
    # real public address; the sandbox cannot reach it, which is the point: the
    # connection goes there (and fails), never to the loopback answer DNS gives next.
    dns = ScriptedResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    async with sender_for(
        DestinationPolicy(allow_insecure=True),
        dns,
        dns_cache_seconds=0,
        connect_timeout_seconds=0.5,
    ) as sender:
        result = await sender.send(
            f"http://rebind.test:{receiver.port}/hook", b"{}", {}, timeout_seconds=1
        )
    assert dns.lookups == ["rebind.test"]
    assert result.http_status is None
    assert result.error_kind in (ErrorKind.CONNECT, ErrorKind.TIMEOUT)
    assert receiver.requests == []


@pytest.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[int, Path, list[str], list[str]]]:
    """An https receiver for ``receiver.test`` with a self-signed certificate.

    Yields its port, the certificate (to trust), and the SNI names and Host headers seen.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_names: list[str] = []
    hosts: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)

    def remember_sni(_sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(server_name or "")

    context.sni_callback = remember_sni

    async def handle(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(text="secure ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=context)
    await site.start()
    yield port, cert_path, server_names, hosts
    await runner.cleanup()


async def test_https_keeps_sni_and_host_while_connecting_to_the_checked_address(
    tls_receiver: tuple[int, Path, list[str], list[str]],
) -> None:
    port, cert_path, server_names, hosts = tls_receiver
    dns = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    trust = ssl.create_default_context(cafile=str(cert_path))
    url = f"https://receiver.test:{port}/hook"
    async with sender_for(DestinationPolicy(allow_private=True), dns, ssl_context=trust) as s:
        result = await s.send(url, b"{}", {}, timeout_seconds=5)
    assert result.http_status == 200 and result.response_excerpt == "secure ok"
    assert server_names == ["receiver.test"]
    assert hosts == [f"receiver.test:{port}"]
    assert dns.lookups == ["receiver.test"]

    # without the private allowance the same name is refused before any TLS handshake
    async with sender_for(DestinationPolicy(), dns, ssl_context=trust) as strict:
        refused = await strict.send(url, b"{}", {}, timeout_seconds=5)
    assert refused.error_kind is ErrorKind.REFUSED
    assert server_names == ["receiver.test"]


async def test_untrusted_certificates_are_tls_errors(
    tls_receiver: tuple[int, Path, list[str], list[str]],
) -> None:
    port, _, _, hosts = tls_receiver
    dns = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    async with sender_for(DestinationPolicy(allow_private=True), dns) as sender:
        result = await sender.send(
            f"https://receiver.test:{port}/hook", b"{}", {}, timeout_seconds=5
        )
    assert result.error_kind is ErrorKind.TLS
    assert hosts == []
