"""The Slack sender against a real aiohttp stand-in: retries, Retry-After, final answers.

Waits are recorded by an injected sleep (and skipped), so the test checks what the
sender would wait without waiting it; the child-process tests wait for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from services.alerter.errors import ChannelUnusable, SlackGaveUp, SlackRejected
from services.alerter.metrics import AlerterMetrics
from services.alerter.slack import RetryBudget, SlackChannel, SlackSender
from signet.dev.broker import free_port
from signet.security.ssrf import DestinationGuard, DestinationPolicy
from tests.receiver import Receiver, Reply

MakeReceiver = Callable[[], Awaitable[Receiver]]
SECRET_PATH = "/services/T0001/B0002/s3cretT0kenXYZ"
MESSAGE = {
    "text": "hello",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}


class Waits:
    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def metrics() -> AlerterMetrics:
    return AlerterMetrics()


def make_sender(
    waits: Waits, metrics: AlerterMetrics, *, allow_private: bool = True, attempts: int = 4
) -> SlackSender:
    guard = DestinationGuard(DestinationPolicy(allow_insecure=True, allow_private=allow_private))
    budget = RetryBudget(
        max_attempts=attempts,
        initial_backoff_seconds=0.5,
        max_backoff_seconds=2.0,
        max_retry_after_seconds=30.0,
    )
    return SlackSender(guard, metrics, budget=budget, timeout_seconds=5, sleep=waits)


@pytest.fixture
async def sender(waits: Waits, metrics: AlerterMetrics) -> AsyncIterator[SlackSender]:
    started = make_sender(waits, metrics)
    await started.start()
    yield started
    await started.stop()


def channel_at(port: int) -> SlackChannel:
    return SlackChannel("dst_slack1", "#ops", f"http://127.0.0.1:{port}{SECRET_PATH}?x=1")


def assert_no_secret(text: str) -> None:
    for part in (SECRET_PATH, "s3cretT0kenXYZ", "B0002"):
        assert part not in text


async def test_posts_the_json_message(sender: SlackSender, make_receiver: MakeReceiver) -> None:
    slack = await make_receiver()
    assert await sender.post(channel_at(slack.port), MESSAGE) == 1
    (request,) = slack.requests
    assert request.method == "POST" and request.path == SECRET_PATH
    assert request.headers["Content-Type"] == "application/json"
    assert orjson.loads(request.body) == MESSAGE


async def test_429_waits_what_retry_after_asks_then_succeeds(
    sender: SlackSender, make_receiver: MakeReceiver, waits: Waits, metrics: AlerterMetrics
) -> None:
    slack = await make_receiver()
    slack.script(Reply(status=429, body=b"rate_limited", headers={"Retry-After": "7"}))
    assert await sender.post(channel_at(slack.port), MESSAGE) == 2
    assert len(slack.requests) == 2
    assert waits.asked[0] == 7.0  # the retry waits exactly what Slack asked
    value = metrics.registry.get_sample_value(
        "signet_alerter_slack_failures_total", {"reason": "rate_limited"}
    )
    assert value == 1


async def test_retry_after_is_clamped_to_the_budgets_maximum(
    sender: SlackSender, make_receiver: MakeReceiver, waits: Waits
) -> None:
    slack = await make_receiver()
    slack.script(Reply(status=429, headers={"Retry-After": "86400"}))
    assert await sender.post(channel_at(slack.port), MESSAGE) == 2
    assert waits.asked[0] == 30.0


async def test_5xx_is_retried_with_growing_backoff_until_the_budget_is_spent(
    sender: SlackSender, make_receiver: MakeReceiver, waits: Waits
) -> None:
    slack = await make_receiver()
    slack.default = Reply(status=500, body=b"internal_error")
    with pytest.raises(SlackGaveUp) as caught:
        await sender.post(channel_at(slack.port), MESSAGE)
    assert len(slack.requests) == 4 and caught.value.attempts == 4
    assert "gave up after 4 attempts" in str(caught.value)
    assert "HTTP 500 internal_error" in str(caught.value)
    assert "#ops" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert_no_secret(str(caught.value))
    assert len(waits.asked) == 3
    assert 0.4 <= waits.asked[0] <= 0.6 and 0.8 <= waits.asked[1] <= 1.2  # doubling, jittered
    assert waits.asked[2] <= 2.4  # capped at max_backoff (+ jitter)


async def test_404_no_service_is_final_at_once(
    sender: SlackSender, make_receiver: MakeReceiver, waits: Waits
) -> None:
    slack = await make_receiver()
    slack.default = Reply(status=404, body=b"no_service")
    with pytest.raises(SlackRejected) as caught:
        await sender.post(channel_at(slack.port), MESSAGE)
    assert len(slack.requests) == 1 and waits.asked == []
    assert caught.value.status == 404 and "HTTP 404 no_service" in str(caught.value)
    assert_no_secret(str(caught.value))


async def test_a_reply_that_echoes_the_url_is_scrubbed(
    sender: SlackSender, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    channel = channel_at(slack.port)
    slack.default = Reply(status=400, body=f"bad request to {channel.url}".encode())
    with pytest.raises(SlackRejected) as caught:
        await sender.post(channel, MESSAGE)
    assert_no_secret(str(caught.value))


async def test_network_errors_are_retried_and_never_spell_the_url(
    sender: SlackSender, waits: Waits
) -> None:
    closed = free_port()  # nothing listens there
    with pytest.raises(SlackGaveUp) as caught:
        await sender.post(channel_at(closed), MESSAGE)
    assert caught.value.attempts == 4 and "connection failed" in str(caught.value)
    assert_no_secret(str(caught.value))
    assert caught.value.__cause__ is not None
    assert_no_secret(str(caught.value.__cause__))


async def test_loopback_is_refused_unless_private_destinations_are_allowed(
    waits: Waits, metrics: AlerterMetrics, make_receiver: MakeReceiver
) -> None:
    slack = await make_receiver()
    strict = make_sender(waits, metrics, allow_private=False)
    await strict.start()
    try:
        with pytest.raises(ChannelUnusable) as caught:
            await strict.post(channel_at(slack.port), MESSAGE)
    finally:
        await strict.stop()
    assert slack.requests == [] and "loopback" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_the_channel_repr_hides_its_url() -> None:
    channel = channel_at(9)
    assert "s3cret" not in repr(channel) and "s3cret" not in channel.label
