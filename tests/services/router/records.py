"""Builders of the records the router consumes, for unit and integration tests."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from signet_sdk.ids import new_id, now_ms

from signet.records.model import (
    CommandKind,
    Destination,
    Event,
    PublishableKey,
    SealedSecret,
    SigningSecret,
    WorkspaceCommand,
)

SEED_PAYLOAD = orjson.dumps(
    {
        "order_id": "ord_lannister_77",
        "customer_id": "cus_lannister",
        "account_id": "acc_casterly",
        "total_cents": 12900,
        "currency": "usd",
        "items": 3,
        "completed_at": "2026-04-17T18:22:00Z",
    }
)
_sealed = SealedSecret(key_id="k1", wrapped_key=b"\x01" * 40, ciphertext=b"\x02" * 60)
_clock = itertools.count(1_760_000_000_000, 1000)


def command(
    workspace_id: str, kind: CommandKind, *, id: str | None = None, **fields: Any
) -> WorkspaceCommand:
    return WorkspaceCommand(
        id=id or new_id("cmd"),
        workspace_id=workspace_id,
        kind=kind.value,
        issued_at=next(_clock),
        **fields,
    )


def create_workspace(workspace_id: str, **fields: Any) -> WorkspaceCommand:
    fields.setdefault("name", "Casterly Rock")
    fields.setdefault("environment", "production")
    fields.setdefault("publishable_key", publishable_key())
    return command(workspace_id, CommandKind.CREATE_WORKSPACE, **fields)


def publishable_key(key_id: str | None = None) -> PublishableKey:
    key_id = key_id or new_id("pk")
    return PublishableKey(
        id=key_id, sha256=f"{key_id}-sha256", hint="pk_live_…f3Qa", created_at=now_ms()
    )


def webhook(
    destination_id: str | None = None,
    *,
    event_types: list[str] | None = None,
    enabled: bool = True,
    url: str = "https://receiver.example/hooks",
) -> Destination:
    return Destination(
        id=destination_id or new_id("dst"),
        type="webhook",
        name="orders",
        created_at=now_ms(),
        updated_at=now_ms(),
        url=url,
        event_types=["*"] if event_types is None else event_types,
        secrets=[SigningSecret(id=new_id("sec"), sealed=_sealed, hint="…x9Z", created_at=1)],
        enabled=enabled,
    )


def slack(destination_id: str | None = None) -> Destination:
    return Destination(
        id=destination_id or new_id("dst"),
        type="slack",
        name="ops alerts",
        created_at=now_ms(),
        updated_at=now_ms(),
        sealed_url=_sealed,
        event_types=["*"],
    )


def put_destination(workspace_id: str, destination: Destination) -> WorkspaceCommand:
    return command(workspace_id, CommandKind.PUT_DESTINATION, destination=destination)


def event(
    workspace_id: str, event_type: str = "order.completed", *, payload: bytes = SEED_PAYLOAD
) -> Event:
    return Event(
        id=new_id("evt"),
        workspace_id=workspace_id,
        type=event_type,
        resource="order",
        resource_id="ord_lannister_77",
        payload=payload,
        created_at=now_ms(),
    )
