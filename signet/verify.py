"""Verifying a delivery: the stable public import path.

The code lives in the SDK, :mod:`signet_sdk.verify` (``pip install signet-sdk``).
"""

from signet_sdk.verify import (
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
