"""A destination's ``signature_header`` on the wire: a real dispatcher process sends the
``github`` and ``hmac-sha256`` signatures under the names existing receivers read, and
those receivers' own checks, written from the format alone, accept them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from signet_sdk.ids import new_id
from signet_sdk.verify import WebhookVerifier

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records.model import Outcome
from tests.receiver import Received, Receiver
from tests.services.dispatcher.conftest import RunningDispatcher
from tests.services.dispatcher.topic_tail import TopicTail
from tests.services.dispatcher.workspace import (
    delivery_for,
    outcomes_of,
    publish_workspace,
    send_delivery,
    webhook,
)

MakeReceiver = Callable[[], Awaitable[Receiver]]
SECRET = "an-existing-receivers-secret"


def lowered(request: Received) -> dict[str, str]:
    """The request's headers as a receiver's framework reads them: names ignore case."""
    return {name.lower(): value for name, value in request.headers.items()}


def acme_github_check(headers: dict[str, str], body: bytes) -> bool:
    """An existing receiver's check: GitHub's format under the product's own header."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-acme-signature-256", ""), expected)


def acme_stripe_style_check(headers: dict[str, str], body: bytes) -> bool:
    """Another one: Stripe's ``t=…,v1=…`` format under ``Acme-Signature``."""
    parts = dict(p.split("=", 1) for p in headers.get("acme-signature", "").split(","))
    signed = f"{parts['t']}.".encode() + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts.get("v1", ""), expected)


async def test_the_signature_goes_under_the_destination_s_own_header(
    dispatcher: RunningDispatcher,
    producer: AsyncProducer,
    topics: Topics,
    outcomes: TopicTail[Outcome],
    make_receiver: MakeReceiver,
) -> None:
    github_receiver, stripe_receiver = await make_receiver(), await make_receiver()
    ws = new_id("ws")
    ring = dispatcher.ring
    github_style = dataclasses.replace(
        webhook(ring, ws, github_receiver.url, [SECRET]),
        signature_scheme="github",
        signature_header="x-acme-signature-256",
    )
    stripe_style = dataclasses.replace(
        webhook(ring, ws, stripe_receiver.url, [SECRET]),
        signature_scheme="hmac-sha256",
        signature_header="acme-signature",
    )
    config = await publish_workspace(producer, topics, ws, [github_style, stripe_style])
    deliveries = [delivery_for(config, d.id) for d in (github_style, stripe_style)]
    for delivery in deliveries:
        await send_delivery(producer, topics, delivery)

    (github_request,) = await github_receiver.wait_for(1)
    (stripe_request,) = await stripe_receiver.wait_for(1)
    github_headers, stripe_headers = lowered(github_request), lowered(stripe_request)
    assert acme_github_check(github_headers, github_request.body)
    assert acme_stripe_style_check(stripe_headers, stripe_request.body)
    # Under that name only, and the deduplication id as always.
    assert "x-hub-signature-256" not in github_headers
    assert "signet-signature" not in stripe_headers
    assert github_headers["webhook-id"] == deliveries[0].event_id
    assert stripe_headers["webhook-id"] == deliveries[1].event_id
    # The SDK's verifier reads it when told the name.
    WebhookVerifier(SECRET, scheme="github", signature_header="X-Acme-Signature-256").verify(
        github_request.headers, github_request.body
    )
    # The delivery log's "headers sent" names it as it went out.
    for delivery, name in zip(deliveries, ("x-acme-signature-256", "acme-signature"), strict=True):
        (outcome,) = await outcomes_of(outcomes, delivery, 1)
        assert outcome.status == "delivered", outcome
        assert name in {n.lower() for n in outcome.request_headers}
