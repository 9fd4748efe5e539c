"""A real dispatcher process sending through a real forward proxy (proxy.py) on loopback.

The dispatcher is started with ``SIGNET_EGRESS_PROXY_URL`` pointing at a port where no
proxy listens yet: the first attempt fails and is retried every second; once the proxy
is up, the next retry and every later delivery go through it, the operator's own webhook's
too (configured before the dispatcher starts, so it knows it from its first delivery).
The https receiver's CA is trusted through ``SSL_CERT_FILE``, the standard way to add a
CA to the dispatcher.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret
from standardwebhooks import Webhook

from signet.dev.broker import free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.operator_webhook.events import (
    OperationalEvent,
    operational_delivery,
    operator_secret_aad,
)
from signet.operator_webhook.view import KEY
from signet.records import codec
from signet.records.model import OperatorWebhook, Outcome
from signet.security.secrets import MasterKeyRing, generate_master_key, hint
from signet.settings import CommonSettings
from tests.certificates import certificate
from tests.forward_proxy import ForwardProxy, start_forward_proxy
from tests.receiver import Receiver
from tests.services.dispatcher.conftest import RunningDispatcher, dispatcher_process
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    outcomes_of,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
RETRY_MAX_ATTEMPTS = 60


@dataclass(slots=True)
class Setup:
    dispatcher: RunningDispatcher
    proxy_port: int
    directory: Path
    ca: Path
    operator: Receiver  # the operator's own webhook
    operator_secret: str
    proxy: ForwardProxy | None = None

    async def proxy_up(self) -> ForwardProxy:
        if self.proxy is None:
            self.proxy = await start_forward_proxy(self.directory, port=self.proxy_port)
        return self.proxy


async def set_operator_webhook(
    producer: AsyncProducer, topics: Topics, ring: MasterKeyRing, url: str, secret: str
) -> None:
    """What the portal's PUT /v1/operator-webhook writes: the webhook, its secret sealed."""
    now = now_ms()
    hook = OperatorWebhook(
        id=new_id("owh"),
        url=url,
        secret=ring.seal(secret.encode(), operator_secret_aad()),
        secret_hint=hint(secret),
        created_at=now,
        updated_at=now,
        event_types=[OperationalEvent.DESTINATION_CREATED.value],
    )
    await producer.send(topics.operator_webhook, codec.encode(hook), key=KEY, timeout=10)


@pytest.fixture(scope="module")
async def setup(
    kafka_settings: CommonSettings,
    producer: AsyncProducer,
    topics: Topics,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Setup]:
    directory = tmp_path_factory.mktemp("egress")
    ca, _ = certificate(directory, "localhost")
    proxy_port = free_port()
    master_keys = generate_master_key()
    operator, operator_secret = Receiver(), secret()
    await operator.start()
    await set_operator_webhook(
        producer, topics, MasterKeyRing.parse(master_keys), operator.url, operator_secret
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(ca))  # the child's environment starts from ours
        process, running = dispatcher_process(
            kafka_settings,
            master_keys=master_keys,
            egress_proxy_url=f"http://127.0.0.1:{proxy_port}",
            # every second for a minute: however long proxy.py takes to start, a retry
            # comes after it listens (one retry at 1 s lost that race on a loaded CI)
            retry_delays_seconds="[1]",
            retry_max_attempts=RETRY_MAX_ATTEMPTS,
        )
    setup = Setup(running, proxy_port, directory, ca, operator, operator_secret)
    async with process:
        yield setup
    if setup.proxy is not None:
        await setup.proxy.stop()
    await operator.stop()


def secret() -> str:
    return generate_secret("standard-webhooks").secret


async def test_a_proxy_that_is_down_fails_the_attempt_and_the_retry_goes_through_it(
    setup: Setup,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    receiver = await make_receiver()
    ws = new_id("ws")
    destination = webhook(setup.dispatcher.ring, ws, receiver.url, [secret()])
    config = await publish_workspace(producer, topics, ws, [destination])
    delivery = delivery_for(config, destination.id)
    await send_delivery(producer, topics, delivery)

    (first,) = await outcomes_of(outcomes, delivery, 1)
    assert first.status == "failed" and first.http_status is None
    assert first.error is not None
    assert f"egress proxy 127.0.0.1:{setup.proxy_port} unreachable" in first.error
    assert first.next_attempt_at is not None  # retried, not dead-lettered
    assert receiver.requests == []

    proxy = await setup.proxy_up()
    (request,) = await receiver.wait_for(1, timeout=30)
    delivered = await outcomes.wait_for(
        lambda rs: any(o.delivery_id == delivery.id and o.status == "delivered" for o in rs),
        f"{delivery.id} delivered",
        30,
    )
    *failed, last = sorted(
        (o for o in delivered if o.delivery_id == delivery.id), key=lambda o: o.attempt
    )
    assert last.status == "delivered" and 2 <= last.attempt < RETRY_MAX_ATTEMPTS
    # every attempt before the proxy listened failed on it, none reached the receiver
    assert [o.attempt for o in failed] == list(range(1, last.attempt))
    assert all(o.status == "failed" and o.http_status is None for o in failed), failed
    assert len(receiver.requests) == 1
    assert request.headers["webhook-id"] == delivery.event_id
    assert proxy.connects_to(receiver.port) == [f"127.0.0.1:{receiver.port}"]


@pytest.fixture
async def tls_receiver(setup: Setup) -> AsyncIterator[tuple[int, list[str]]]:
    """An https receiver for ``localhost`` (the CA the dispatcher trusts); its port and
    the SNI names it saw."""
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(setup.ca, setup.directory / "key.pem")

    def remember(_s: ssl.SSLObject, name: str | None, _c: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = remember

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    yield port, names
    await runner.cleanup()


async def test_https_deliveries_go_through_the_proxy_with_tls_inside_the_tunnel(
    setup: Setup,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    tls_receiver: tuple[int, list[str]],
) -> None:
    port, names = tls_receiver
    proxy = await setup.proxy_up()
    ws = new_id("ws")
    destination = webhook(setup.dispatcher.ring, ws, f"https://localhost:{port}/hook", [secret()])
    config = await publish_workspace(producer, topics, ws, [destination])
    deliveries = [delivery_for(config, destination.id) for _ in range(3)]
    for delivery in deliveries:
        await send_delivery(producer, topics, delivery)
    for delivery in deliveries:
        (outcome,) = await outcomes_of(outcomes, delivery, 1)
        assert outcome.status == "delivered", outcome
    assert names and set(names) == {"localhost"}
    connects = proxy.connects_to(port)
    # the name was resolved by the dispatcher: the proxy was asked for an address only
    assert connects and set(connects) <= {f"127.0.0.1:{port}", f"::1:{port}"}
    assert len(names) <= len(connects)  # every TLS session ran inside a tunnel


async def test_the_operator_webhook_goes_through_the_proxy_too(
    setup: Setup, producer: AsyncProducer, topics: Topics, outcomes: TopicTail[Outcome]
) -> None:
    """Not SSRF-guarded (its loopback address is allowed: the operator's own backend), but
    tunnelled through the proxy like every post."""
    proxy = await setup.proxy_up()
    delivery = operational_delivery(
        OperationalEvent.DESTINATION_CREATED,
        cause=(new_id("cmd"),),
        cause_at_ms=now_ms(),
        workspace_id=new_id("ws"),
        destination_id=new_id("dst"),
    )
    await send_delivery(producer, topics, delivery)

    (request,) = await setup.operator.wait_for(1, timeout=30)
    body = Webhook(setup.operator_secret).verify(request.body, request.headers)
    assert body["type"] == OperationalEvent.DESTINATION_CREATED.value
    (outcome,) = await outcomes_of(outcomes, delivery, 1)
    assert outcome.status == "delivered", outcome
    port = setup.operator.port
    assert proxy.connects_to(port) == [f"127.0.0.1:{port}"]
