"""Errors of the signing package: bad secrets on the way in, bad signatures on the way back.

    SignetError (signet/errors.py)
    └── SigningError
        ├── UnknownSchemeError     a scheme name no signer is registered for
        ├── InvalidSecretError     a secret that does not fit its scheme (safe to show)
        └── SignatureError         a delivery that does not verify (receiver side)
            └── TimestampError     its timestamp is outside the tolerance

No message ever contains secret material: they are shown to customers and logged.
"""

from __future__ import annotations

from signet_sdk.errors import SignetError


class SigningError(SignetError):
    """Root of everything the signing package raises."""


class UnknownSchemeError(SigningError):
    """A destination names a signature scheme this build does not know."""


class InvalidSecretError(SigningError):
    """A secret that cannot be used with its scheme (wrong prefix, length, encoding)."""


class SignatureError(SigningError):
    """A request whose signature headers are missing, malformed or do not match."""


class TimestampError(SignatureError):
    """A request signed too long ago or too far in the future (replay protection)."""
