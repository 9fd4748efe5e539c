"""Custom headers and mutual TLS on the wire: the sender and the dispatcher against a real
aiohttp TLS receiver on 127.0.0.1 that requires a client certificate (certificates made
here with ``cryptography``, tests/certificates.py)."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from signet_sdk.ids import new_id
from signet_sdk.signing import generate_secret

from services.dispatcher.request_extras import RequestExtras
from services.dispatcher.results import ErrorKind
from services.dispatcher.sender import Sender
from services.portal.headers_tls import ClientTlsInput, client_tls, header_changes
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Destination, Outcome, OutcomeStatus, RetryPolicy
from signet.security.egress import EgressProxy
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from tests.certificates import Issued, TestCa
from tests.forward_proxy import start_forward_proxy
from tests.receiver import Receiver
from tests.services.dispatcher.conftest import RunningDispatcher
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    publish_workspace,
    send_delivery,
    webhook,
)
from tests.tls_receiver import MutualTlsReceiver

MakeReceiver = Callable[[], Awaitable[Receiver]]
WS = "ws_tls"
TOKEN = "Bearer sk_live_0123456789abcd"

SERVER_CA = TestCa("Receiver private CA")  # what a destination pins (ca_certificate)
CLIENT_CA = TestCa("Client CA")  # the one the receiver trusts for client certificates
SERVER = SERVER_CA.issue("receiver", server=True)
CLIENT = CLIENT_CA.issue("signet-client")
STRANGER = TestCa("Unknown CA").issue("stranger")  # a client certificate it does not trust


@pytest.fixture
async def tls_receiver() -> AsyncIterator[MutualTlsReceiver]:
    async with MutualTlsReceiver(SERVER, client_ca=CLIENT_CA.certificate) as receiver:
        yield receiver


def destination(
    ring: MasterKeyRing,
    workspace_id: str,
    url: str,
    *,
    client: Issued | None = CLIENT,
    pinned: str | None = SERVER_CA.certificate,
    secrets: list[str] | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Destination:
    """A webhook destination with headers and TLS built as the portal builds them."""
    base = webhook(ring, workspace_id, url, secrets, retry_policy=retry_policy)
    headers = {"X-Tenant": "acme", "Authorization": TOKEN}
    extras = header_changes(ring, workspace_id, base.id, headers, None)
    tls = None
    if client is not None:
        body = ClientTlsInput(
            client_certificate=client.certificate, client_key=client.key, ca_certificate=pinned
        )
        tls = client_tls(ring, workspace_id, base.id, body)
    return dataclasses.replace(base, tls=tls, **extras)


def sender() -> Sender:
    policy = DestinationPolicy(allow_insecure=True, allow_private=True)
    return Sender(DestinationGuard(policy), connect_timeout_seconds=2, excerpt_bytes=1024)


# -- the sender and the extras, no broker ----------------------------------------------


async def test_the_client_certificate_is_presented_and_headers_sent(
    tls_receiver: MutualTlsReceiver,
) -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    extras = RequestExtras(ring).for_destination(WS, destination(ring, WS, tls_receiver.url))
    async with sender() as s:
        result = await s.send(
            tls_receiver.url,
            b"{}",
            extras.headers,
            timeout_seconds=5,
            ssl_context=extras.ssl_context,
        )
    assert result.http_status == 200 and result.response_excerpt == "mutual ok"
    [(client_name, headers)] = tls_receiver.seen
    assert client_name == "signet-client"
    assert headers["Authorization"] == TOKEN and headers["X-Tenant"] == "acme"
    assert extras.shown == {"X-Tenant": "acme", "Authorization": "…abcd"}


async def test_contexts_are_shared_by_content(tls_receiver: MutualTlsReceiver) -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    one = destination(ring, WS, tls_receiver.url)
    extras = RequestExtras(ring)
    first = extras.for_destination(WS, one).ssl_context
    assert first is not None and extras.for_destination(WS, one).ssl_context is first
    other = destination(ring, WS, tls_receiver.url, pinned=None)  # another CA setting
    assert extras.for_destination(WS, other).ssl_context is not first


@pytest.mark.parametrize(
    ("client", "pinned"),
    [
        (STRANGER, SERVER_CA.certificate),  # a certificate the receiver does not trust
        (None, SERVER_CA.certificate),  # no certificate at all
        (CLIENT, CLIENT_CA.certificate),  # pinned to a CA that did not sign the receiver
    ],
    ids=["wrong-certificate", "no-certificate", "wrong-pinned-ca"],
)
async def test_a_refused_handshake_is_a_failed_attempt(
    tls_receiver: MutualTlsReceiver, client: Issued | None, pinned: str
) -> None:
    ring = MasterKeyRing.parse(generate_master_key())
    target = destination(ring, WS, tls_receiver.url, client=client, pinned=pinned)
    extras = RequestExtras(ring).for_destination(WS, target)
    context = extras.ssl_context or ssl.create_default_context(cadata=pinned)
    async with sender() as s:
        result = await s.send(
            tls_receiver.url, b"{}", extras.headers, timeout_seconds=5, ssl_context=context
        )
    assert result.http_status is None
    assert result.error_kind in (ErrorKind.TLS, ErrorKind.RESET), result
    assert tls_receiver.seen == []  # the receiver's handler never ran


async def test_the_certificate_is_presented_through_the_egress_proxy_tunnel(
    tls_receiver: MutualTlsReceiver, tmp_path: Path
) -> None:
    """TLS runs end to end inside the CONNECT tunnel: the receiver still sees Signet's
    client certificate, and the proxy saw the tunnel."""
    proxy = await start_forward_proxy(tmp_path)
    try:
        ring = MasterKeyRing.parse(generate_master_key())
        extras = RequestExtras(ring).for_destination(WS, destination(ring, WS, tls_receiver.url))
        policy = DestinationPolicy(allow_insecure=True, allow_private=True)
        egress = EgressProxy.from_settings(proxy.url())
        through = Sender(
            DestinationGuard(policy), connect_timeout_seconds=2, excerpt_bytes=1024, proxy=egress
        )
        async with through as s:
            result = await s.send(
                tls_receiver.url,
                b"{}",
                extras.headers,
                timeout_seconds=5,
                ssl_context=extras.ssl_context,
            )
        assert result.http_status == 200, result
        assert [name for name, _ in tls_receiver.seen] == ["signet-client"]
        assert proxy.connects_to(tls_receiver.port) == [f"127.0.0.1:{tls_receiver.port}"]
    finally:
        await proxy.stop()


# -- the dispatcher, on the real broker -------------------------------------------------


async def test_every_attempt_presents_the_certificate_and_records_headers_masked(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    tls_receiver: MutualTlsReceiver,
) -> None:
    ws = new_id("ws")
    tls_receiver.statuses = [503]  # the first attempt fails; the retry carries it all too
    target = destination(
        dispatcher.ring,
        ws,
        tls_receiver.url,
        secrets=[generate_secret("standard-webhooks").secret],
        retry_policy=RetryPolicy(max_attempts=3, delays_seconds=[1]),
    )
    config = await publish_workspace(producer, topics, ws, [target])
    delivery = delivery_for(config, target.id)
    await send_delivery(producer, topics, delivery)

    def both(records: list[Outcome]) -> bool:
        return len([o for o in records if o.delivery_id == delivery.id]) >= 2

    records = await outcomes.wait_for(both, "a failed attempt and its retry", timeout=45)
    failed, delivered = sorted(
        (o for o in records if o.delivery_id == delivery.id), key=lambda o: o.attempt
    )
    assert failed.status == OutcomeStatus.FAILED and failed.http_status == 503
    assert delivered.status == OutcomeStatus.DELIVERED and delivered.attempt == 2
    assert [name for name, _ in tls_receiver.seen] == ["signet-client", "signet-client"]
    for (_, headers), outcome in zip(tls_receiver.seen, (failed, delivered), strict=True):
        assert headers["Authorization"] == TOKEN and headers["X-Tenant"] == "acme"
        assert outcome.request_headers["Authorization"] == "…abcd"  # recorded masked
        assert outcome.request_headers["X-Tenant"] == "acme"
        assert outcome.request_headers["webhook-id"] == headers["webhook-id"]
        assert TOKEN not in repr(outcome)
