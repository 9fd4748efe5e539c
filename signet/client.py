"""The HTTP events client: the stable public import path.

The code lives in :mod:`signet.sdk.client`; ``signet/sdk/`` keeps the SDK together.
"""

from signet.sdk.client import (
    AsyncEventsClient,
    AuthenticationError,
    BulkItem,
    ClientError,
    EventsClient,
    IdempotencyConflictError,
    InvalidEventError,
    RetryPolicy,
    UnavailableError,
    new_idempotency_key,
)

__all__ = [
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
