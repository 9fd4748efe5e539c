"""Errors the portal raises on purpose, translated to problem+json at the HTTP boundary.

SignetError
├── FieldErrors           a request breaks its rules; one error per field
│                         (signet_sdk.contract.fields: the shape ingest answers too)
└── PortalError
    └── SessionError      a session token that is garbled, forged or expired
"""

from __future__ import annotations

from signet.errors import SignetError


class PortalError(SignetError):
    """Root of the portal's own errors."""


class SessionError(PortalError):
    """A token that does not verify; the message is safe to show (it names no secret)."""
