"""What a receiver gets: the JSON body of an event, and the stable id of each delivery of it.

The body is rendered once per event and is byte-identical for every destination, so each
destination's signature covers the same bytes. The customer's payload is embedded as the
exact bytes it arrived with (``orjson.Fragment``): no re-parse, no re-serialisation, no
change to key order or number formatting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from signet_sdk.ids import derived_id

from signet.errors import InvalidRecordError
from signet.records.model import Event

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc_ms(epoch_ms: int) -> str:
    """``2026-04-17T18:22:00.123Z`` for epoch milliseconds (integer maths, no float drift)."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"


def check_payload(payload: bytes) -> dict[str, object]:
    """Refuse a payload that is not a JSON object: it would make every body invalid JSON.

    Events from the HTTP ingest are already checked, but producers that write straight to
    Kafka are not, and the body embeds the payload bytes unchecked.
    """
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecordError(f"event payload is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidRecordError(
            f"event payload must be a JSON object, not {type(parsed).__name__}"
        )
    return parsed


def render_body(event: Event) -> bytes:
    """The exact bytes POSTed to every destination of ``event``
    (docs/architecture.md#what-a-receiver-gets)."""
    return orjson.dumps(
        {
            "id": event.id,
            "type": event.type,
            "resource": event.resource,
            "resource_id": event.resource_id,
            "workspace_id": event.workspace_id,
            "created_at": iso_utc_ms(event.created_at),
            "data": orjson.Fragment(event.payload),
        }
    )


def delivery_id(event_id: str, destination_id: str, event_created_at: int) -> str:
    """``dlv_`` + the event's creation time and a hash of (event, destination).

    Deterministic, so an event the router processes twice (after a restart) yields the
    same delivery id, and the delivery log and dispatcher can tell it is the same work.
    Time first, like every other id: the log's indexes over delivery ids grow at the end.
    """
    return derived_id("dlv", event_id, destination_id, at_ms=event_created_at)
