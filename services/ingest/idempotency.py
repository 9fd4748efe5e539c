"""Produce an event once per idempotency key, also under concurrent duplicate requests.

The event id itself needs no memory: it is derived from (workspace, key)
(:func:`signet_sdk.contract.events.event_id_for`), so every replica answers the same id. What
this module adds is *not producing a second record*: an in-memory cache, bounded in time
(``idempotency_ttl_seconds``, 24 h) and size (``idempotency_cache_size``), remembers keys
whose record the broker acknowledged; a request arriving while the first one with the
same key is still being produced waits for that one's result instead of producing again.

What it does not do, honestly:
- Across replicas, or after a restart, or once a key fell out of the cache, the same key
  is produced again — with the same event id. Receivers deduplicate by ``webhook-id``
  (the event id), so such a duplicate is delivered but recognisable.
- A key reused with a different event is refused (the fingerprint differs) only while the
  first use is remembered here.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.ingest.errors import IdempotencyConflictError
from signet.errors import BrokerError

Clock = Callable[[], float]


@dataclass(slots=True)
class _Entry:
    fingerprint: bytes
    # What duplicates arriving meanwhile wait on; None once acknowledged (the cache holds
    # many entries for a day: a finished future per entry would be most of its memory).
    done: asyncio.Future[None] | None
    expires_at: float  # monotonic; infinite while the first produce is in flight


class IdempotencyCache:
    """Remembers (workspace, key) → fingerprint for keys whose record is acknowledged."""

    def __init__(
        self, *, ttl_seconds: float, max_entries: int, clock: Clock = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        # Insertion order ≈ expiry order: an entry moves to the end when it completes.
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def once(
        self,
        workspace_id: str,
        key: str,
        fingerprint: bytes,
        produce: Callable[[], Awaitable[None]],
    ) -> bool:
        """Run ``produce`` unless this key was produced (or is being produced) already.

        Returns True when the request is a replay of an earlier one. Raises
        :class:`IdempotencyConflictError` when the key was used for a different event, and
        whatever the first producer raised when a waiter shared its failure.
        """
        self._expire()
        scope = (workspace_id, key)
        entry = self._entries.get(scope)
        if entry is not None:
            if not hmac.compare_digest(entry.fingerprint, fingerprint):
                raise IdempotencyConflictError(key)
            if entry.done is not None:
                # shield: a waiter that gives up must not cancel the first request's result.
                await asyncio.shield(entry.done)
            return True
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = _Entry(fingerprint, done, float("inf"))
        self._entries[scope] = entry
        self._evict()
        try:
            await produce()
        except BaseException as exc:
            if self._entries.get(scope) is entry:
                del self._entries[scope]  # a failed key may be tried again at once
            error = exc if isinstance(exc, Exception) else BrokerError("interrupted")
            done.set_exception(error)
            done.exception()  # retrieved: no "never retrieved" noise without waiters
            raise
        done.set_result(None)  # the waiters hold the future; the entry lets it go
        entry.done = None
        entry.expires_at = self._clock() + self._ttl
        if self._entries.get(scope) is entry:
            self._entries.move_to_end(scope)
        return False

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            scope, entry = next(iter(self._entries.items()))
            if entry.expires_at > now:
                return
            del self._entries[scope]

    def _evict(self) -> None:
        # Oldest first; an evicted in-flight entry still answers the waiters it has.
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
