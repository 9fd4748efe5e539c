"""Build what the router would have written (a workspace snapshot and deliveries), and
read back what the dispatcher wrote of them."""

from __future__ import annotations

import dataclasses

import orjson
from confluent_kafka import Message
from signet_sdk.ids import new_id, now_ms
from signet_sdk.signing import generate_secret

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import (
    Delivery,
    Destination,
    DestinationType,
    Outcome,
    RetryPolicy,
    SigningSecret,
    WorkspaceConfig,
)
from signet.security.secrets import MasterKeyRing, hint, secret_aad
from tests.services.dispatcher.topic_tail import TopicTail

HOUR_MS = 3600 * 1000


def webhook(
    ring: MasterKeyRing,
    workspace_id: str,
    url: str,
    secrets: list[str] | None = None,
    *,
    destination_id: str | None = None,
    timeout_seconds: float | None = None,
    enabled: bool = True,
    disabled_reason: str | None = None,
    retry_policy: RetryPolicy | None = None,
) -> Destination:
    """A webhook destination; ``secrets`` newest first, the older ones still overlapping."""
    destination_id = destination_id or new_id("dst")
    now = now_ms()
    sealed = [
        SigningSecret(
            id=new_id("sec"),
            sealed=ring.seal(text.encode(), secret_aad(workspace_id, destination_id)),
            hint=hint(text),
            created_at=now - index * HOUR_MS,
            expires_at=None if index == 0 else now + HOUR_MS,
        )
        for index, text in enumerate(secrets or [])
    ]
    return Destination(
        id=destination_id,
        type=DestinationType.WEBHOOK.value,
        name=f"hook {destination_id[-4:]}",
        created_at=now,
        updated_at=now,
        url=url,
        event_types=["order.*"],
        secrets=sealed,
        enabled=enabled,
        disabled_reason=disabled_reason,
        timeout_seconds=timeout_seconds,
        retry_policy=retry_policy,
    )


async def publish_workspace(
    producer: AsyncProducer,
    topics: Topics,
    workspace_id: str,
    destinations: list[Destination],
    *,
    version: int = 1,
) -> WorkspaceConfig:
    """Write the snapshot straight onto ``workspace-config``, as the router would."""
    now = now_ms()
    config = WorkspaceConfig(
        workspace_id=workspace_id,
        version=version,
        name="Acme",
        environment="production",
        created_at=now,
        updated_at=now,
        destinations=destinations,
    )
    await producer.send(topics.workspace_config, codec.encode(config), key=config.workspace_id)
    return config


def event_body(workspace_id: str, event_id: str, created_at: int) -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "type": "order.completed",
            "resource": "order",
            "resource_id": "ord_42",
            "workspace_id": workspace_id,
            "created_at": created_at,
            "data": {"order_id": "ord_42", "total": 99.5, "currency": "EUR", "note": "ünïcödé"},
        }
    )


def delivery_for(
    config: WorkspaceConfig, destination_id: str, event_id: str | None = None
) -> Delivery:
    event_id = event_id or new_id("evt")
    created = config.updated_at
    return Delivery(
        id=new_id("dlv"),
        event_id=event_id,
        workspace_id=config.workspace_id,
        destination_id=destination_id,
        event_type="order.completed",
        body=event_body(config.workspace_id, event_id, created),
        attempt=1,
        event_created_at=created,
        due_at=created,
    )


async def send_delivery(producer: AsyncProducer, topics: Topics, delivery: Delivery) -> Message:
    """Produce as the router does (keyed by destination); the acknowledged message."""
    return await producer.send(
        topics.deliveries, codec.encode(delivery), key=delivery.destination_id
    )


async def outcomes_of(
    outcomes: TopicTail[Outcome], delivery: Delivery, count: int, timeout: float = 30
) -> list[Outcome]:
    """The first ``count`` (or more) outcomes of ``delivery``, by attempt."""
    records = await outcomes.wait_for(
        lambda rs: len([o for o in rs if o.delivery_id == delivery.id]) >= count,
        f"{count} outcomes of {delivery.id}",
        timeout,
    )
    return sorted(
        (o for o in records if o.delivery_id == delivery.id),
        key=lambda o: (o.attempt, o.attempted_at),
    )


async def send_fifo_line(
    producer: AsyncProducer, topics: Topics, ring: MasterKeyRing, url: str, count: int
) -> list[tuple[Delivery, int]]:
    """A new workspace with one FIFO destination at ``url`` and ``count`` deliveries to it,
    sent in order: each with its place in line (its offset on deliveries, ``fifo.py``)."""
    ws = new_id("ws")
    key = generate_secret("standard-webhooks").secret
    line = dataclasses.replace(webhook(ring, ws, url, [key]), ordering="fifo")
    config = await publish_workspace(producer, topics, ws, [line])
    sent = []
    for delivery in [delivery_for(config, line.id) for _ in range(count)]:
        msg = await send_delivery(producer, topics, delivery)
        sent.append((delivery, msg.offset() or 0))
    return sent
