"""What a receiver is sent: the body and headers of every delivery, as models.

The portal's OpenAPI document describes them as its ``webhooks`` entry, so receivers and
SDKs can be typed from it. The bytes themselves are made elsewhere —
:func:`signet.records.payload.render_body` and the signature schemes of
:mod:`signet_sdk.signing` — and tests/signet/api/test_webhook.py holds these models to
what those produce.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from signet_sdk.contract.models import Answer

EVENT_WEBHOOK = "event"


class WebhookBody(Answer):
    """The JSON body of a delivery: byte-identical for every destination of an event,
    across retries and replays."""

    id: str = Field(
        description="the event id; the same in `webhook-id`: deduplicate on it",
        examples=["evt_01JS3Z8M2V4K6QF0YB7W9T1NXA"],
    )
    type: str = Field(description="the event type", examples=["order.completed"])
    resource: str = Field(examples=["order"])
    resource_id: str = Field(examples=["ord_lannister_77"])
    workspace_id: str = Field(examples=["ws_01JS3Z8M2V4K6QF0YB7W9T1NXB"])
    created_at: str = Field(
        description="when the event was accepted: RFC 3339, UTC, milliseconds",
        examples=["2026-04-17T18:22:00.123Z"],
        json_schema_extra={"format": "date-time"},
    )
    data: dict[str, Any] = Field(
        description="the payload as emitted, byte for byte (key order and numbers kept)"
    )


class WebhookHeaders(Answer):
    """The headers of a delivery. Which signature headers come depends on the
    destination's `signature_scheme`; `webhook-id` comes with every scheme. (The names
    are those of :mod:`signet_sdk.signing.headers`; the test holds them to it.)"""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    webhook_id: str = Field(
        alias="webhook-id",
        description="the event id: the same across retries, replays and destinations",
    )
    webhook_timestamp: str | None = Field(
        default=None,
        alias="webhook-timestamp",
        description="epoch seconds of this attempt (`standard-webhooks`, "
        "`standard-webhooks-ed25519`)",
        pattern=r"^[0-9]+$",
    )
    webhook_signature: str | None = Field(
        default=None,
        alias="webhook-signature",
        description="space-separated `v1,<base64 HMAC-SHA256>` (`standard-webhooks`) or "
        "`v1a,<base64 Ed25519>` (`standard-webhooks-ed25519`), one per active secret "
        "during a rotation",
    )
    signet_signature: str | None = Field(
        default=None,
        alias="signet-signature",
        description="`t=<epoch seconds>,v1=<hex HMAC>` with one `v1=` per active secret "
        "(`hmac-sha256`, `hmac-sha512`; Stripe-style)",
    )
    x_hub_signature_256: str | None = Field(
        default=None,
        alias="x-hub-signature-256",
        description="`sha256=<hex HMAC-SHA256 of the body>` (`github`)",
    )
    user_agent: str | None = Field(
        default=None,
        alias="user-agent",
        description="`Signet/<version>`, with every delivery",
        examples=["Signet/0.1.0"],
    )
