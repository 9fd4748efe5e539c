"""The demo's local servers and terminal pieces, with real HTTP and real signatures."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from rich.console import Console
from signet_sdk.signing import generate_secret, sign_delivery
from signet_sdk.verify import InMemoryReplayCache, WebhookVerifier

from signet.dev.demo.narration import hint
from signet.dev.demo.receivers import VerifyingReceiver
from signet.dev.demo.slack import SlackStandIn, mrkdwn, render

BODY = b'{"id":"evt_1","type":"order.completed","data":{}}'


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[VerifyingReceiver, str]]:
    secret = generate_secret("standard-webhooks").secret
    server = VerifyingReceiver("Audit log")
    server.verifier = WebhookVerifier(secret, replay_cache=InMemoryReplayCache())
    await server.start()
    yield server, secret
    await server.stop()


async def _post(url: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=BODY, headers=headers) as r:
        return r.status


async def test_receiver_verifies_fails_on_demand_and_lets_the_retry_through(
    receiver: tuple[VerifyingReceiver, str],
) -> None:
    server, secret = receiver

    def signed() -> dict[str, str]:
        return sign_delivery("standard-webhooks", [secret], "evt_1", int(time.time()), BODY)

    server.failing = True
    assert await _post(server.url, signed()) == 503
    server.failing = False
    assert await _post(server.url, signed()) == 200  # the retry: its id was released
    assert await _post(server.url, signed()) == 200  # a duplicate: answered, not redone
    forged = sign_delivery(
        "standard-webhooks", [generate_secret("standard-webhooks").secret], "evt_2", 1, BODY
    )
    assert await _post(server.url, forged) == 400
    arrivals = server.arrivals
    assert [(a.attempt, a.verified, a.answered) for a in arrivals] == [
        (1, True, 503),
        (2, True, 200),
        (3, True, 200),
        (1, False, 400),
    ]
    assert arrivals[0].event_type == "order.completed"


async def test_slack_stand_in_keeps_what_the_alerter_posts() -> None:
    slack = SlackStandIn()
    await slack.start()
    try:
        message = {"text": "fallback", "blocks": [{"type": "header", "text": {"text": "🚨 Hi"}}]}
        async with aiohttp.ClientSession() as http, http.post(slack.url, json=message) as answer:
            assert await answer.text() == "ok"
        assert await slack.wait_for(1, 5)
        assert slack.messages == [message]
    finally:
        await slack.stop()


def test_mrkdwn_becomes_terminal_text() -> None:
    text = mrkdwn(
        "The *order.completed* event `evt_1` <https://x.example/e|evt_1> at "
        "<!date^1700000000^{date_short_pretty}|2023-11-14 22:13 UTC> &lt;ok&gt; [x]"
    )
    assert text.plain == "The order.completed event evt_1 evt_1 at 2023-11-14 22:13 UTC <ok> [x]"
    assert any(span.style == "bold" for span in text.spans)


def test_a_block_kit_message_renders_its_parts() -> None:
    message = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "🚨 Delivery failed"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "could not be *delivered*"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Attempts*\n4"}]},
            {"type": "actions", "elements": [{"type": "button", "text": {"text": "Open"}}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Signet · `ws_1`"}]},
        ]
    }
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(render(message))
    shown = console.export_text()
    for part in ("🚨 Delivery failed", "could not be delivered", "Attempts", "[ Open ]", "ws_1"):
        assert part in shown


def test_hints_keep_the_prefix_and_four_characters() -> None:
    assert hint("pk_live_abcdef_123456") == "pk_live_…3456"
    assert hint("whsec_ABCDEFGHIJ") == "whsec_…GHIJ"
    assert hint("casterly-orders-xyz1") == "…xyz1"
