"""Records the alerter reads, built as the router and the dispatcher would write them."""

from __future__ import annotations

from confluent_kafka import Message
from signet_sdk.ids import new_id, now_ms

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, outcome_headers
from signet.records import codec
from signet.records.model import (
    Destination,
    DestinationType,
    Outcome,
    OutcomeStatus,
    WorkspaceConfig,
)
from signet.security.secrets import MasterKeyRing, slack_url_aad


def webhook_destination(
    url: str = "https://api.acme.test/hooks/signet?token=s3cr3t", *, name: str = "Orders API"
) -> Destination:
    now = now_ms()
    return Destination(
        id=new_id("dst"),
        type=DestinationType.WEBHOOK.value,
        name=name,
        created_at=now,
        updated_at=now,
        url=url,
        event_types=["order.*"],
    )


def slack_channel(
    ring: MasterKeyRing,
    workspace_id: str,
    url: str,
    *,
    name: str = "#ops-alerts",
    enabled: bool = True,
) -> Destination:
    """A Slack alert channel whose URL is sealed as the portal seals it."""
    destination_id = new_id("dst")
    now = now_ms()
    return Destination(
        id=destination_id,
        type=DestinationType.SLACK.value,
        name=name,
        created_at=now,
        updated_at=now,
        sealed_url=ring.seal(url.encode(), slack_url_aad(workspace_id, destination_id)),
        enabled=enabled,
    )


def workspace(
    workspace_id: str, destinations: list[Destination], *, name: str = "Acme Corp", version: int = 1
) -> WorkspaceConfig:
    now = now_ms()
    return WorkspaceConfig(
        workspace_id=workspace_id,
        version=version,
        name=name,
        environment="production",
        created_at=now,
        updated_at=now,
        destinations=destinations,
    )


def outcome(
    workspace_id: str,
    destination: Destination,
    *,
    status: OutcomeStatus = OutcomeStatus.EXHAUSTED,
    attempt: int = 10,
    http_status: int | None = 500,
    error: str | None = "HTTP 500",
    event_id: str | None = None,
    attempted_at: int | None = None,
) -> Outcome:
    at = attempted_at if attempted_at is not None else now_ms()
    return Outcome(
        id=new_id("att"),
        status=status.value,
        delivery_id=new_id("dlv"),
        event_id=event_id or new_id("evt"),
        workspace_id=workspace_id,
        destination_id=destination.id,
        event_type="order.completed",
        attempt=attempt,
        attempted_at=at,
        event_created_at=at - 3 * 3600 * 1000,
        url=destination.url,
        http_status=http_status,
        error=error,
    )


async def publish_workspace(
    producer: AsyncProducer, topics: Topics, config: WorkspaceConfig
) -> WorkspaceConfig:
    """Straight onto ``workspace-config``, as the router's table changelog would."""
    await producer.send(topics.workspace_config, codec.encode(config), key=config.workspace_id)
    return config


async def send_outcome(producer: AsyncProducer, topics: Topics, record: Outcome) -> Message:
    """Produce as the dispatcher does (keyed by workspace, the status in a header); the
    acknowledged message."""
    return await producer.send(
        topics.outcomes,
        codec.encode(record),
        key=record.workspace_id,
        headers=outcome_headers(record.status),
    )
