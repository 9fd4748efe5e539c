"""Errors of the dispatcher.

    SignetError (signet/errors.py)
    └── DispatcherError
        └── DestinationUnavailable   deleted, disabled, not a webhook, or unusable config

It is not a poison record: it ends as a `failed` outcome that says why, as does
``signet.errors.DestinationRefused`` (the SSRF guard or URL policy forbids contacting it).
"""

from __future__ import annotations

from signet.errors import SignetError


class DispatcherError(SignetError):
    """Root of the dispatcher's own errors."""


class DestinationUnavailable(DispatcherError):
    """A delivery whose destination can no longer receive it."""
