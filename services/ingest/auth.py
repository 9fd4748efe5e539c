"""Who is calling: a publishable key (``Bearer pk_test_…`` / ``pk_live_…``) → its workspace.

Keys exist only as SHA-256 hex in workspace snapshots (docs/architecture.md#access). The
lookup is a dict access by the hash of the presented key, which reveals nothing about
other keys; the stored hash is then compared in constant time anyway, so a future lookup
that scans or truncates cannot turn into a timing oracle.

A key the view does not know yet may have been created a moment ago: the portal answers
once *its* view has the key, and ours follows the same topic a fetch later. So an unknown
key waits (``SIGNET_UNKNOWN_KEY_WAIT_SECONDS``, 1 s) for the view to learn it before the
401: creating a key and emitting with it at once works, and a guessed key costs its
sender that second.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.ids import now_ms

from signet.kafka.config_view import KeyMatch
from signet.web import Problem

# pk_test_ (development, staging) or pk_live_ (production), then an opaque token.
_PUBLISHABLE_KEY = re.compile(r"pk_(?:test|live)_[A-Za-z0-9_-]{8,200}")
AUTHORIZATION = "Authorization"


class KeyDirectory(Protocol):
    """The part of :class:`signet.kafka.config_view.ConfigView` authentication needs."""

    @property
    def ready(self) -> bool: ...

    def key_by_hash(self, sha256_hex: str) -> KeyMatch | None: ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


@dataclass(slots=True, frozen=True)
class Caller:
    workspace_id: str
    key_id: str


class PublishableKeyAuth:
    def __init__(self, keys: KeyDirectory, *, unknown_key_wait_seconds: float = 1.0) -> None:
        self._keys = keys
        self._unknown_key_wait = unknown_key_wait_seconds

    async def authenticate(self, header: str | None) -> Caller:
        """The caller behind an ``Authorization`` header, or a 401 (503 before catch-up)."""
        if not self._keys.ready:
            # Before the view has read every snapshot, a valid key would look unknown.
            raise Problem(
                503,
                "Not ready",
                "the gateway is still loading workspace configuration; retry shortly",
                kind="not-ready",
                headers={"Retry-After": "1"},
            )
        if header is None or not header.strip():
            raise _denied("missing Authorization header; send 'Bearer <publishable key>'")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _denied("the Authorization header must be 'Bearer <publishable key>'")
        if not _PUBLISHABLE_KEY.fullmatch(token):
            raise _denied("malformed publishable key; expected pk_test_… or pk_live_…")
        digest = hashlib.sha256(token.encode()).hexdigest()
        keys = self._keys
        match = keys.key_by_hash(digest)
        if match is None and self._unknown_key_wait > 0:
            await keys.wait_for(
                lambda: keys.key_by_hash(digest) is not None, self._unknown_key_wait
            )
            match = keys.key_by_hash(digest)
        if match is None or not hmac.compare_digest(match.key.sha256, digest):
            raise _denied("unknown publishable key")
        revoked_at = match.key.revoked_at
        if revoked_at is not None and revoked_at <= now_ms():
            raise _denied(f"publishable key {match.key.hint} has been revoked")
        return Caller(match.workspace_id, match.key.id)


def _denied(detail: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        detail,
        kind="unauthorized",
        errors=[FieldError(AUTHORIZATION, FieldErrorCode.UNAUTHORIZED, detail).as_dict()],
        headers={"WWW-Authenticate": "Bearer"},
    )
