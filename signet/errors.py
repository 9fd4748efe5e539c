"""The error tree every Signet component raises.

    SignetError                    retriable=False unless a subclass says otherwise
    ├── ConfigurationError         bad settings; the process refuses to start
    ├── CodecError                 a record's bytes cannot be read or written → dead letter
    │   └── UnknownSchemaError     single-object fingerprint we have never seen
    ├── InvalidRecordError         decodes, but breaks a rule (bad id, unknown kind) → dead letter
    ├── SecretError                a sealed secret cannot be opened (unknown key id, tampered)
    ├── DestinationRefused         a URL Signet will not connect to (SSRF guard, plain http)
    ├── BrokerError                Kafka refused or timed out             retriable=True
    └── CommandTimeoutError        the router did not apply a command in time   retriable=True

Policy lives on the class: callers ask ``exc.retriable`` instead of chaining isinstance
checks. Services add their own subclasses (``services/*/errors.py``). The root and
``BrokerError`` are the SDK's (:mod:`signet_sdk.errors`): its client, verifier and direct
producer raise into the same tree.
"""

from __future__ import annotations

from typing import ClassVar

from signet_sdk.errors import BrokerError, SignetError

__all__ = [
    "BrokerError",
    "CodecError",
    "CommandTimeoutError",
    "ConfigurationError",
    "DestinationRefused",
    "InvalidRecordError",
    "SecretError",
    "SignetError",
    "UnknownSchemaError",
]


class ConfigurationError(SignetError):
    """Settings that cannot work (missing key, malformed key ring, bad URL)."""


class CodecError(SignetError):
    """Bytes that are not a record we can decode, or a record we cannot encode."""


class UnknownSchemaError(CodecError):
    """A single-object encoded record whose schema fingerprint is not registered."""


class InvalidRecordError(SignetError):
    """A record that decodes but breaks a rule of its contract."""


class SecretError(SignetError):
    """A sealed secret that cannot be opened with the configured key ring."""


class DestinationRefused(SignetError):
    """A destination URL Signet will not connect to (private address, plain http, …)."""


class CommandTimeoutError(SignetError):
    """A workspace command was produced but not seen applied within the deadline."""

    retriable: ClassVar[bool] = True
