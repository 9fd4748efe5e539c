"""Verify the webhooks Signet sends you, in your receiver: signature, age, and replays.

    from signet_sdk.verify import WebhookVerifier, InMemoryReplayCache

    verifier = WebhookVerifier("whsec_…", replay_cache=InMemoryReplayCache())

    def handle(headers, body: bytes):                 # the raw body, before any JSON parsing
        try:
            webhook = verifier.verify(headers, body)
        except ReplayError:
            return 200                                 # seen already: answer, do nothing again
        except SignatureError:                         # forged, tampered, too old or too new
            return 400
        try:
            process(webhook.event)                     # {"id", "type", …, "data": {…}}
        except Exception:
            verifier.release(webhook.id)               # let Signet's retry through
            raise
        return 200

Every scheme a destination can use is supported (``scheme=``, and ``signature_header=``
when the destination sends its signature under a name of its own): ``standard-webhooks``
(default, ``whsec_`` secret), ``standard-webhooks-ed25519`` (``whpk_`` public key),
``hmac-sha256``, ``hmac-sha512`` and ``github`` (plain-text secrets). Give several keys
during a secret rotation: a request verifies if any of them matches.

Errors, all :class:`~signet_sdk.signing.SignatureError` (so one ``except`` refuses them all)::

    SignatureError       missing or malformed headers, or no signature matches a key
    ├── TimestampError   signed more than ``tolerance_seconds`` ago, or in the future
    └── ReplayError      this ``webhook-id`` was already accepted (a replay or a retry)

The replay cache is keyed by ``webhook-id``, which is the event id and stays the same
across Signet's retries and replays: it also deduplicates. Remember an id at least as long
as a signature stays acceptable (the default TTL is twice the tolerance), and
:meth:`WebhookVerifier.release` it when you could not process the event, or Signet's
retry would be refused as a replay. Several receiver processes need a shared cache: any
object with ``claim`` and ``release`` (:class:`ReplayCache`) will do, e.g. over Redis's
``SET key 1 NX EX ttl`` and ``DEL key``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from signet_sdk.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    SignatureError,
    TimestampError,
    as_scheme_headers,
    renamable_header,
    scheme_of,
    verify_delivery,
)
from signet_sdk.signing.headers import SIGNET_SIGNATURE, WEBHOOK_ID, WEBHOOK_TIMESTAMP
from signet_sdk.signing.schemes import SignatureScheme

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "InMemoryReplayCache",
    "ReplayCache",
    "ReplayError",
    "SignatureError",
    "TimestampError",
    "VerifiedWebhook",
    "WebhookVerifier",
]

# The github scheme signs no timestamp; without one, ids are kept this long.
UNTIMED_REPLAY_TTL_SECONDS = 24 * 3600.0


class ReplayError(SignatureError):
    """A valid request whose ``webhook-id`` was already accepted."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"webhook {webhook_id} was already received")
        self.webhook_id = webhook_id


class ReplayCache(Protocol):
    """Remembers accepted ``webhook-id`` values for a while; must be safe to share."""

    def claim(self, webhook_id: str, ttl_seconds: float) -> bool:
        """Remember ``webhook_id`` for ``ttl_seconds``; False if it is remembered already."""
        ...

    def release(self, webhook_id: str) -> None:
        """Forget ``webhook_id`` (its processing failed; a retry must get through)."""
        ...


class InMemoryReplayCache:
    """A thread-safe TTL set for one receiver process, bounded to ``max_entries``.

    When full, the oldest ids are forgotten first: size it above the requests one
    receiver accepts within the TTL.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # in claim order
        self._lock = threading.Lock()

    def claim(self, webhook_id: str, ttl_seconds: float) -> bool:
        now = self._clock()
        with self._lock:
            self._evict(now)
            expires = self._expiry.get(webhook_id)
            if expires is not None and expires > now:
                return False
            self._expiry[webhook_id] = now + ttl_seconds
            self._expiry.move_to_end(webhook_id)
            while len(self._expiry) > self._max:
                self._expiry.popitem(last=False)
            return True

    def release(self, webhook_id: str) -> None:
        with self._lock:
            self._expiry.pop(webhook_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._evict(self._clock())
            return len(self._expiry)

    def _evict(self, now: float) -> None:
        # Claim order is expiry order while every claim uses the same TTL (one verifier);
        # a longer-lived id at the front only delays the eviction of the ones behind it.
        while self._expiry:
            webhook_id, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[webhook_id]


@dataclass(slots=True, frozen=True)
class VerifiedWebhook:
    """A request that verified: its ids and the exact body that was signed."""

    id: str  # webhook-id: the event id, the same across retries; deduplicate on it
    timestamp: int | None  # webhook-timestamp, epoch seconds (None for `github`)
    body: bytes

    @property
    def event(self) -> Any:
        """The parsed body: ``{"id", "type", "resource", "resource_id", …, "data"}``."""
        return orjson.loads(self.body)


class WebhookVerifier:
    """Checks one destination's requests; ``keys`` are its secret(s), newest first."""

    def __init__(
        self,
        keys: str | bytes | Sequence[str | bytes],
        *,
        scheme: str = SignatureScheme.STANDARD_WEBHOOKS.value,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        replay_cache: ReplayCache | None = None,
        replay_ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        signature_header: str | None = None,
    ) -> None:
        self._keys = [keys] if isinstance(keys, str | bytes) else list(keys)
        if not self._keys:
            raise ValueError("give at least one key")
        self._spec = scheme_of(scheme)  # UnknownSchemeError for a name we do not know
        # The destination's own name for the signature header (hmac-*, github), if any.
        self._signature_header = signature_header
        if signature_header is not None:
            renamable_header(self._spec)  # UnknownSchemeError for standard-webhooks
        self._tolerance = tolerance_seconds
        self._cache = replay_cache
        default_ttl = (
            2 * tolerance_seconds if self._spec.timestamped else UNTIMED_REPLAY_TTL_SECONDS
        )
        self._ttl = replay_ttl_seconds if replay_ttl_seconds is not None else default_ttl
        self._clock = clock

    @property
    def scheme(self) -> str:
        return self._spec.scheme.value

    def verify(self, headers: Mapping[str, str], body: bytes) -> VerifiedWebhook:
        """The verified request, or :class:`SignatureError` (or a subclass) saying why not.

        ``headers`` may be any mapping (aiohttp's, Flask's, a dict); names are matched
        case-insensitively. ``body`` must be the raw bytes as received.
        """
        lowered = as_scheme_headers(self._spec, headers, self._signature_header)
        now = self._clock()
        error: SignatureError | None = None
        for key in self._keys:
            try:
                verify_delivery(
                    self.scheme, key, lowered, body, tolerance_seconds=self._tolerance, now=now
                )
                break
            except TimestampError:
                raise  # the same for every key: the timestamp is what is wrong
            except SignatureError as exc:
                error = exc
        else:
            raise error or SignatureError("no key to verify with")
        webhook_id = lowered.get(WEBHOOK_ID, "")
        if self._cache is not None:
            if not webhook_id:
                raise SignatureError(f"missing {WEBHOOK_ID} header")
            if not self._cache.claim(webhook_id, self._ttl):
                raise ReplayError(webhook_id)
        return VerifiedWebhook(webhook_id, self._timestamp(lowered), body)

    def _timestamp(self, lowered: Mapping[str, str]) -> int | None:
        """The signed time, from wherever the scheme carries it (it has verified)."""
        if self._spec.scheme in (SignatureScheme.HMAC_SHA256, SignatureScheme.HMAC_SHA512):
            entries = (item.strip() for item in lowered[SIGNET_SIGNATURE].split(","))
            stamp = next((e[2:] for e in entries if e.startswith("t=")), None)
        else:
            stamp = lowered.get(WEBHOOK_TIMESTAMP) if self._spec.timestamped else None
        return int(stamp) if stamp else None

    def release(self, webhook_id: str) -> None:
        """Forget an accepted id, so Signet's retry of it verifies again."""
        if self._cache is not None:
            self._cache.release(webhook_id)
