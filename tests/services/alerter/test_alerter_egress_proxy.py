"""The alerter as a real process posting its Slack alerts through a real forward proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from signet_sdk.ids import new_id

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.forward_proxy import ForwardProxy, start_forward_proxy
from tests.receiver import Receiver
from tests.services.alerter.conftest import (
    RunningAlerter,
    alerter_process,
    slack_messages,
    stand_in_url,
)
from tests.services.alerter.records import (
    outcome,
    publish_workspace,
    send_outcome,
    slack_channel,
    webhook_destination,
    workspace,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]


@pytest.fixture(scope="module")
async def proxy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ForwardProxy]:
    started = await start_forward_proxy(tmp_path_factory.mktemp("proxy"))
    yield started
    await started.stop()


@pytest.fixture(scope="module")
async def alerter(
    kafka_settings: CommonSettings, proxy: ForwardProxy
) -> AsyncIterator[RunningAlerter]:
    process, running = alerter_process(kafka_settings, egress_proxy_url=proxy.url())
    async with process:
        yield running


async def test_an_alert_reaches_slack_through_the_egress_proxy(
    alerter: RunningAlerter,
    proxy: ForwardProxy,
    producer: AsyncProducer,
    topics: Topics,
    make_receiver: MakeReceiver,
) -> None:
    slack = await make_receiver()
    ws = new_id("ws")
    destination = webhook_destination("https://api.acme.test/hooks/x")
    channel = slack_channel(alerter.ring, ws, stand_in_url(slack.port), name="#ops")
    await publish_workspace(producer, topics, workspace(ws, [destination, channel]))
    await send_outcome(producer, topics, outcome(ws, destination, attempt=8, http_status=502))

    (message,) = slack_messages(await slack.wait_for(1))
    assert destination.name in message.body
    # CONNECT to the checked address, never the name, for plain http too
    assert proxy.connects_to(slack.port) == [f"127.0.0.1:{slack.port}"]
