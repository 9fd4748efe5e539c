"""The direct Kafka producer: the stable public import path.

The code lives in :mod:`signet.sdk.producer`; ``signet/sdk/`` keeps the SDK together.
"""

from signet.sdk.producer import (
    DeliveryFailedError,
    EventProducer,
    FailedEvent,
)

__all__ = [
    "DeliveryFailedError",
    "EventProducer",
    "FailedEvent",
]
