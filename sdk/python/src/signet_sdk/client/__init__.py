"""Emit events to Signet's HTTP ingest from Python, sync or async, one at a time or in bulk.

    from signet_sdk.client import EventsClient

    with EventsClient("pk_live_…", base_url="http://127.0.0.1:8080") as signet:
        event_id = signet.emit(
            event="order.completed",
            resource="order",
            resource_id="ord_lannister_77",
            payload={"order_id": "ord_lannister_77", "total_cents": 12900},
        )

:class:`AsyncEventsClient` has the same methods as coroutines. ``emit_bulk`` takes events
shaped like the HTTP API's (``{"event", "resource", "resource_id", "payload", "id"?}``),
sends them 500 to a request and returns one :class:`BulkItem` per event.

Retries never duplicate an event. Every event carries an idempotency key, the caller's or
one generated here before the first attempt, and the same key goes out on every retry, so
the ingest answers a retry of an acknowledged event with the same id and no second
delivery. 429, 502, 503, 504, timeouts and connection errors are retried with exponential
backoff and full jitter (``Retry-After`` honoured, clamped); anything else is an answer.

Errors (all :class:`~signet.errors.SignetError`)::

    ClientError                    status and the problem+json body, when there is one
    ├── AuthenticationError        401/403: a wrong, revoked or malformed publishable key
    ├── InvalidEventError          400/413/415: ``errors`` names every bad field
    ├── IdempotencyConflictError   422: the key was used before for a different event
    └── UnavailableError           retries exhausted (429, 5xx, network)   retriable=True

The modules: ``errors.py``; ``flows.py``, the one request/response logic both clients
drive (generators that yield requests and pauses and get responses back); ``sync.py``
(over ``http.client``) and ``aio.py`` (over aiohttp), each only a transport for the flows.
"""

from signet_sdk.client.aio import AsyncEventsClient
from signet_sdk.client.errors import (
    AuthenticationError,
    ClientError,
    IdempotencyConflictError,
    InvalidEventError,
    UnavailableError,
)
from signet_sdk.client.flows import (
    BULK_PATH,
    DEFAULT_BASE_URL,
    EVENTS_PATH,
    MAX_BULK_EVENTS,
    RETRY_STATUSES,
    USER_AGENT,
    BulkItem,
    RetryPolicy,
    new_idempotency_key,
)
from signet_sdk.client.sync import EventsClient

__all__ = [
    "BULK_PATH",
    "DEFAULT_BASE_URL",
    "EVENTS_PATH",
    "MAX_BULK_EVENTS",
    "RETRY_STATUSES",
    "USER_AGENT",
    "AsyncEventsClient",
    "AuthenticationError",
    "BulkItem",
    "ClientError",
    "EventsClient",
    "IdempotencyConflictError",
    "InvalidEventError",
    "RetryPolicy",
    "UnavailableError",
    "new_idempotency_key",
]
