"""What the events clients send, when they retry, and what an answer means: once, for both.

``emit_flow`` and ``bulk_flow`` are generators that yield requests and pauses and get
responses back; each client only drives them over its own transport (``sync.py`` over
``http.client``, ``aio.py`` over aiohttp). So the retries, the idempotency keys and the
reading of every answer are the same whichever client sends.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from signet_sdk import __version__
from signet_sdk.client.errors import (
    AuthenticationError,
    ClientError,
    IdempotencyConflictError,
    InvalidEventError,
    UnavailableError,
)
from signet_sdk.retry_after import parse_retry_after

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
EVENTS_PATH = "/v1/events"
BULK_PATH = "/v1/events/bulk"
MAX_BULK_EVENTS = 500  # the ingest's default per request
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"signet-python/{__version__}"
T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """Attempts per request and the pause between them: exponential, full jitter."""

    max_attempts: int = 5
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    max_retry_after_seconds: float = 30.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        asked = parse_retry_after(retry_after)  # delta-seconds or an HTTP date
        if asked is not None:
            return min(asked, self.max_retry_after_seconds)
        ceiling = min(self.max_backoff_seconds, self.initial_backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


@dataclass(slots=True, frozen=True)
class BulkItem:
    """One event of a bulk emit: ``accepted`` with its ``id``, else ``rejected``/``failed``."""

    index: int
    status: str  # accepted | rejected (fix the event) | failed (not acknowledged: retry it)
    idempotency_key: str
    id: str | None = None
    error: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


@dataclass(slots=True, frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True, frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None


@dataclass(slots=True, frozen=True)
class Pause:
    seconds: float


@dataclass(slots=True, frozen=True)
class NetworkFailure:
    reason: str


# What a flow yields, and what it is sent back for a request (None after a pause).
Step = Request | Pause
Reply = Response | NetworkFailure | None
Flow = Generator[Step, Reply, T]


def new_idempotency_key() -> str:
    """A fresh key (what the clients use when the caller gives none)."""
    return f"sdk_{secrets.token_urlsafe(18)}"


# -- the flows: what to send, when to retry, what an answer means -----------------------


def exchange(request: Request, policy: RetryPolicy) -> Flow[Response]:
    """Send ``request`` until it gets an answer that is not worth retrying."""
    reason = "no attempt was made"
    for attempt in range(1, policy.max_attempts + 1):
        reply = yield request
        retry_after = None
        if isinstance(reply, Response):
            if reply.status not in RETRY_STATUSES:
                return reply
            retry_after = reply.headers.get("retry-after")
            reason = f"HTTP {reply.status}"
        elif isinstance(reply, NetworkFailure):
            reason = reply.reason
        if attempt < policy.max_attempts:
            yield Pause(policy.delay(attempt, retry_after))
    raise UnavailableError(
        f"no acknowledgement after {policy.max_attempts} attempts (last: {reason}); "
        "retrying later with the same idempotency key is safe"
    )


def raise_for(response: Response) -> None:
    """Turn an answer that is not a 202 into the matching :class:`ClientError`."""
    problem = response.json()
    detail = problem.get("detail") or problem.get("title") if isinstance(problem, dict) else None
    message = f"HTTP {response.status}: {detail or response.body[:200].decode(errors='replace')}"
    kind: type[ClientError] = ClientError
    if response.status in (401, 403):
        kind = AuthenticationError
    elif response.status in (400, 413, 415):
        kind = InvalidEventError
    elif response.status == 422:
        kind = IdempotencyConflictError
    elif response.status in RETRY_STATUSES:
        kind = UnavailableError
    raise kind(message, status=response.status, problem=problem)


def emit_flow(
    headers: dict[str, str], body: Mapping[str, Any], key: str, policy: RetryPolicy
) -> Flow[str]:
    request = Request(EVENTS_PATH, orjson.dumps(body), {**headers, "idempotency-key": key})
    response = yield from exchange(request, policy)
    document = response.json()
    if response.status != 202 or not isinstance(document, dict) or "id" not in document:
        raise_for(response)
    return str(document["id"])


def bulk_flow(
    headers: dict[str, str],
    events: Sequence[Mapping[str, Any]],
    policy: RetryPolicy,
    chunk_size: int,
) -> Flow[list[BulkItem]]:
    """Each event gets its key first; events the broker did not acknowledge go again."""
    batch_key = new_idempotency_key()
    keyed = [
        {**event, "id": event.get("id") or f"{batch_key}:{index}"}
        for index, event in enumerate(events)
    ]
    results: dict[int, BulkItem] = {}
    for start in range(0, len(keyed), chunk_size):
        pending = list(range(start, min(start + chunk_size, len(keyed))))
        for attempt in range(1, policy.max_attempts + 1):
            body = orjson.dumps({"events": [keyed[i] for i in pending]})
            response = yield from exchange(Request(BULK_PATH, body, headers), policy)
            answered = bulk_items(response, pending, keyed)
            results.update(answered)
            pending = [i for i in pending if answered[i].status == "failed"]
            if not pending:
                break
            if attempt < policy.max_attempts:
                yield Pause(policy.delay(attempt))
    return [results[i] for i in range(len(keyed))]


def bulk_items(
    response: Response, sent: list[int], keyed: list[dict[str, Any]]
) -> dict[int, BulkItem]:
    """Caller's index → item, from a 202's results or a 400's ``events[i]…`` errors."""
    document = response.json()
    if response.status == 202 and isinstance(document, dict):
        items = {}
        for entry in document.get("results") or []:
            index = sent[int(entry["index"])]
            items[index] = BulkItem(
                index,
                str(entry["status"]),
                keyed[index]["id"],
                entry.get("id"),
                entry.get("error") or {},
            )
        return items
    if response.status == 400 and isinstance(document, dict):
        errors: dict[int, list[dict[str, Any]]] = {}
        for error in document.get("errors") or []:
            name = str(error.get("field", ""))
            if not name.startswith("events["):
                raise_for(response)  # the request itself is wrong, not one event
            position, _, rest = name.removeprefix("events[").partition("]")
            errors.setdefault(sent[int(position)], []).append(
                {**error, "field": rest.removeprefix(".")}
            )
        return {
            index: BulkItem(
                index, "rejected", keyed[index]["id"], error={"errors": errors.get(index, [])}
            )
            for index in sent
        }
    raise_for(response)
    raise AssertionError("unreachable")  # raise_for always raises


class ClientBase:
    def __init__(
        self,
        publishable_key: str,
        base_url: str,
        timeout_seconds: float,
        retry: RetryPolicy | None,
        max_bulk_events: int,
    ) -> None:
        if not publishable_key.startswith("pk_"):
            raise AuthenticationError("a publishable key starts with pk_test_ or pk_live_")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._retry = retry or RetryPolicy()
        self._chunk = min(max_bulk_events, MAX_BULK_EVENTS)
        self._headers = {
            "authorization": f"Bearer {publishable_key}",
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }

    def _emit(
        self,
        event: str,
        resource: str,
        resource_id: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None,
    ) -> Flow[str]:
        body = {"event": event, "resource": resource, "resource_id": resource_id}
        key = idempotency_key or new_idempotency_key()
        return emit_flow(self._headers, {**body, "payload": payload}, key, self._retry)

    def _bulk(self, events: Sequence[Mapping[str, Any]]) -> Flow[list[BulkItem]]:
        return bulk_flow(self._headers, list(events), self._retry, self._chunk)
