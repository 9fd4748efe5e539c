"""A record of ``deliveries``, a retry tier or the hold topic as a Delivery fit to send.

What cannot be one raises (CodecError, InvalidRecordError) for the consumer to
dead-letter, with the reason.
"""

from __future__ import annotations

from signet.errors import InvalidRecordError
from signet.records import codec
from signet.records.model import Delivery

_REQUIRED = ("id", "event_id", "workspace_id", "destination_id", "event_type")


def decode_delivery(value: bytes | None) -> Delivery:
    """A Delivery fit to send, or CodecError / InvalidRecordError saying what is wrong."""
    delivery = codec.decode(value, Delivery)
    missing = [name for name in _REQUIRED if not getattr(delivery, name)]
    if missing:
        raise InvalidRecordError(f"delivery has empty {', '.join(missing)}")
    if delivery.attempt < 1:
        raise InvalidRecordError(f"delivery attempt must be at least 1, got {delivery.attempt}")
    if not delivery.body:
        raise InvalidRecordError("delivery has an empty body")
    return delivery
