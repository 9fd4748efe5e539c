"""Errors of the ingest gateway, under :class:`signet.errors.SignetError`.

SignetError
└── IdempotencyConflictError   a key reused for a different event → 422
"""

from __future__ import annotations

from signet.errors import SignetError


class IdempotencyConflictError(SignetError):
    """The idempotency key was already used, in this workspace, for a different event."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different event")
