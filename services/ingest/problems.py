"""The ingest's own problem+json answers (RFC 9457): a reused idempotency key, a broker
that did not acknowledge.

Field errors are :func:`signet.web.invalid_request`'s (400, or 413 when the only trouble
is size), with ``field`` naming ``body``, an event field (``payload``), a header
(``Idempotency-Key``) or, in a bulk request, a path inside it (``events[3].payload``). In
a bulk result entry, fields are relative to that event, and ``""`` is the event itself.
"""

from __future__ import annotations

from signet_sdk.contract.fields import FieldError, FieldErrorCode

from services.ingest.errors import IdempotencyConflictError
from signet.errors import BrokerError
from signet.web import Problem


def conflict(exc: IdempotencyConflictError) -> Problem:
    return Problem(
        422,
        "Idempotency key reused",
        f"{exc}; send a new key for a new event",
        kind="idempotency-conflict",
        errors=[
            FieldError("id", FieldErrorCode.CONFLICT, "reused for a different event").as_dict()
        ],
    )


def unavailable(exc: BrokerError) -> Problem:
    return Problem(
        503,
        "Broker unavailable",
        f"the event was not acknowledged ({exc}); retry with the same idempotency key",
        kind="broker-unavailable",
        headers={"Retry-After": "1"},
    )
