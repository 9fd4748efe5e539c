"""Errors of the dispatcher.

    SignetError (signet/errors.py)
    └── DispatcherError
        ├── DestinationRefused       the SSRF guard or URL policy forbids contacting it
        └── DestinationUnavailable   deleted, disabled, not a webhook, or unusable config

Neither is a poison record: both end as a `failed` outcome that says why.
"""

from __future__ import annotations

from signet.errors import SignetError


class DispatcherError(SignetError):
    """Root of the dispatcher's own errors."""


class DestinationRefused(DispatcherError):
    """A destination URL Signet will not connect to (private address, plain http, …)."""


class DestinationUnavailable(DispatcherError):
    """A delivery whose destination can no longer receive it."""
