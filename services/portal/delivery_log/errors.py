"""Errors of the delivery log.

SignetError
└── LogStoreError               the log database refused (policy on the class)
    ├── StoreUnavailable        cannot reach the database, lock timeout  retriable=True
    ├── RecordRejected          the database refused this data (too big, bad type): dead letter
    └── InvalidCursor           a pagination cursor that we did not issue → 400
"""

from __future__ import annotations

from typing import ClassVar

from signet.errors import SignetError


class LogStoreError(SignetError):
    """Root of the delivery log's errors."""


class StoreUnavailable(LogStoreError):
    """The database is down, busy or timed out: try the same work again later."""

    retriable: ClassVar[bool] = True


class RecordRejected(LogStoreError):
    """The database refused the data itself; retrying the same record cannot succeed."""


class InvalidCursor(LogStoreError):
    """A ``cursor`` query parameter that is not one the store issued."""
