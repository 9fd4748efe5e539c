"""Signet's SDK: emit events to Signet and verify the webhooks it delivers.

- :mod:`signet_sdk.client`: the events client over HTTP (sync and async).
- :mod:`signet_sdk.verify`: verify a delivery's signature (every scheme Signet signs with).
- :mod:`signet_sdk.producer`: write events straight to Kafka (``signet-sdk[kafka]``).

Nothing is imported here, so a receiver that only verifies loads only what it uses.
"""

__version__ = "0.1.0"
