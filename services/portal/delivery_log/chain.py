"""What one attempt contributes to its workspace's chain, and the checks a record passes
before it may enter the log.

The chain's arithmetic lives in ``signet/security/hash_chain.py`` (shared with
``signet verify-log``); this module decides what an entry *is*: the ``Outcome``'s fields
with times as RFC 3339 strings (the portal's format), so an export reads like the API. A
record that breaks a rule is an ``InvalidRecordError`` (a dead letter); text is made
storable first (PostgreSQL refuses NUL characters), before hashing, so the chain covers
exactly what is stored.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from signet.errors import InvalidRecordError
from signet.records.model import Delivery, Outcome, OutcomeStatus, PayloadErasure
from signet.security.hash_chain import rfc3339

MAX_NAME_CHARS = 255
_NAME = re.compile(rf"^[^\x00-\x1f\x7f]{{1,{MAX_NAME_CHARS}}}$")
_MAX_MS = 253_402_300_799_999
_INT32 = (-(2**31), 2**31 - 1)
_STATUSES = frozenset(s.value for s in OutcomeStatus)


def _storable(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "\ufffd")


def is_name(value: str) -> bool:
    """Could this be an id or event type in the log (1..255 chars, no control characters)?"""
    return bool(_NAME.match(value))


def _name(value: str, what: str) -> None:
    if not is_name(value):
        raise InvalidRecordError(
            f"{what} must be 1 to {MAX_NAME_CHARS} characters without control characters"
        )


def _time(value: int | None, what: str) -> None:
    if value is not None and not 0 <= value <= _MAX_MS:
        raise InvalidRecordError(f"{what} {value} is not a time between 1970 and 9999")


def checked_delivery(delivery: Delivery) -> Delivery:
    """The delivery if it may enter the log; ``InvalidRecordError`` otherwise."""
    for what in ("id", "event_id", "workspace_id", "destination_id", "event_type"):
        _name(getattr(delivery, what), f"delivery {what}")
    if delivery.replay_of is not None:
        _name(delivery.replay_of, "delivery replay_of")
    _time(delivery.event_created_at, "event_created_at")
    return delivery


def checked_erasure(erasure: PayloadErasure) -> PayloadErasure:
    """The erasure if it may enter the log; ``InvalidRecordError`` otherwise."""
    for what in ("id", "workspace_id", "event_id"):
        _name(getattr(erasure, what), f"erasure {what}")
    _time(erasure.requested_at, "requested_at")
    return erasure


def checked_outcome(outcome: Outcome) -> Outcome:
    """The outcome made storable, if it may enter the log; ``InvalidRecordError`` otherwise."""
    for what in ("id", "delivery_id", "event_id", "workspace_id", "destination_id", "event_type"):
        _name(getattr(outcome, what), f"outcome {what}")
    if outcome.replay_of is not None:
        _name(outcome.replay_of, "outcome replay_of")
    if outcome.status not in _STATUSES:
        raise InvalidRecordError(f"outcome status {outcome.status!r} is not one we know")
    if not 0 <= outcome.attempt <= _INT32[1]:
        raise InvalidRecordError(f"outcome attempt {outcome.attempt} is negative")
    for what in ("attempted_at", "event_created_at", "next_attempt_at"):
        _time(getattr(outcome, what), what)
    if outcome.http_status is not None and not 0 <= outcome.http_status <= 999:
        raise InvalidRecordError(f"http_status {outcome.http_status} is not an HTTP status")
    latency = outcome.latency_ms
    if latency is not None and (not math.isfinite(latency) or latency < 0):
        latency = None  # a clock hiccup; JSON has no NaN, and the chain must round-trip
    if latency is outcome.latency_ms and type(latency) is not int and _all_storable(outcome):
        return outcome  # the usual case: already as it would be stored
    return dataclasses.replace(
        outcome,
        url=_storable(outcome.url),
        error=_storable(outcome.error),
        response_excerpt=_storable(outcome.response_excerpt),
        latency_ms=None if latency is None else float(latency),
        request_headers={
            str(_storable(k)): str(_storable(v)) for k, v in outcome.request_headers.items()
        },
    )


def _all_storable(outcome: Outcome) -> bool:
    texts = (outcome.url, outcome.error, outcome.response_excerpt)
    if any(text is not None and "\x00" in text for text in texts):
        return False
    return all(
        type(k) is str and type(v) is str and "\x00" not in k and "\x00" not in v
        for k, v in outcome.request_headers.items()
    )


def entry_fields(outcome: Outcome) -> dict[str, Any]:
    """The chain entry of a checked outcome (``seq`` is added when it is appended)."""
    return {
        "id": outcome.id,
        "workspace_id": outcome.workspace_id,
        "delivery_id": outcome.delivery_id,
        "event_id": outcome.event_id,
        "destination_id": outcome.destination_id,
        "event_type": outcome.event_type,
        "status": outcome.status,
        "attempt": outcome.attempt,
        "attempted_at": rfc3339(outcome.attempted_at),
        "event_created_at": rfc3339(outcome.event_created_at),
        "url": outcome.url,
        "http_status": outcome.http_status,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
        "response_excerpt": outcome.response_excerpt,
        "request_headers": dict(outcome.request_headers),
        "next_attempt_at": rfc3339(outcome.next_attempt_at),
        "replay_of": outcome.replay_of,
    }
