"""The direct Kafka producer: the stable public import path, configured from settings.

The producer is the SDK's (:mod:`signet_sdk.producer`, ``pip install 'signet-sdk[kafka]'``).
Here it takes the services' :class:`~signet.settings.CommonSettings` instead of a bootstrap
address, so it writes to the deployment's events topic with its security settings:

    with EventProducer(CommonSettings(kafka_bootstrap="kafka:9092")) as producer:
        producer.emit("ws_01J…", event="order.completed", resource="order", …)
"""

from __future__ import annotations

from typing import Any

from signet_sdk import producer as sdk
from signet_sdk.producer import DeliveryFailedError, FailedEvent

from signet.kafka.topics import Topics, kafka_client_config
from signet.settings import CommonSettings

__all__ = ["DeliveryFailedError", "EventProducer", "FailedEvent"]


class EventProducer(sdk.EventProducer):
    """:class:`signet_sdk.producer.EventProducer` on the deployment's settings."""

    def __init__(self, settings: CommonSettings, **options: Any) -> None:
        """``options``: the SDK producer's keywords and librdkafka overrides."""
        client = kafka_client_config(settings)
        super().__init__(
            client.pop("bootstrap.servers"),
            topic=Topics.from_settings(settings).events,
            **{**client, **options},
        )
