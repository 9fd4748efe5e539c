"""Verifying a delivery: the stable public import path.

The code lives in :mod:`signet.sdk.verify`; ``signet/sdk/`` keeps the SDK together.
"""

from signet.sdk.verify import (
    DEFAULT_TOLERANCE_SECONDS,
    InMemoryReplayCache,
    ReplayCache,
    ReplayError,
    SignatureError,
    TimestampError,
    VerifiedWebhook,
    WebhookVerifier,
)

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "InMemoryReplayCache",
    "ReplayCache",
    "ReplayError",
    "SignatureError",
    "TimestampError",
    "VerifiedWebhook",
    "WebhookVerifier",
]
