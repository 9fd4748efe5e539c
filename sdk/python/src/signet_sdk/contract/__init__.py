"""The rules both sides of the wire share, declared once (needs pydantic: ``signet-sdk[kafka]``).

- :mod:`~signet_sdk.contract.events`: the event a producer emits (:class:`EventBody`), by
  the HTTP ingest and by the direct producer alike.
- :mod:`~signet_sdk.contract.fields`: the one field-error shape ``{field, code, message}``.
- :mod:`~signet_sdk.contract.models`: the strict request-body base and problem+json.
- :mod:`~signet_sdk.contract.rules`: patterns and optional fields, the Signet way.

The Signet services build their whole HTTP contract on these (``signet.api``).
"""
