"""The HTTP events client: the stable public import path.

The code lives in the SDK, :mod:`signet_sdk.client` (``pip install signet-sdk``).
"""

from signet_sdk.client import (
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
