"""Emit events to Signet's HTTP ingest from Python, sync or async, one at a time or in bulk.

    from signet_sdk.client import EventsClient

    with EventsClient("pk_live_…", base_url="http://127.0.0.1:8080") as signet:
        event_id = signet.emit(
            event="order.completed",
            resource="order",
            resource_id="ord_lannister_77",
            payload={"order_id": "ord_lannister_77", "total_cents": 12900},
        )

:class:`AsyncEventsClient` has the same methods as coroutines. ``emit_bulk`` takes events
shaped like the HTTP API's (``{"event", "resource", "resource_id", "payload", "id"?}``),
sends them 500 to a request and returns one :class:`BulkItem` per event.

Retries never duplicate an event. Every event carries an idempotency key, the caller's or
one generated here before the first attempt, and the same key goes out on every retry, so
the ingest answers a retry of an acknowledged event with the same id and no second
delivery. 429, 502, 503, 504, timeouts and connection errors are retried with exponential
backoff and full jitter (``Retry-After`` honoured, clamped); anything else is an answer.

Errors (all :class:`~signet.errors.SignetError`)::

    ClientError                    status and the problem+json body, when there is one
    ├── AuthenticationError        401/403: a wrong, revoked or malformed publishable key
    ├── InvalidEventError          400/413/415: ``errors`` names every bad field
    ├── IdempotencyConflictError   422: the key was used before for a different event
    └── UnavailableError           retries exhausted (429, 5xx, network)   retriable=True

One request/response logic serves both clients: ``_emit_flow`` and ``_bulk_flow`` are
generators that yield requests and pauses and get responses back, and each client only
drives them over its own transport (``http.client`` for sync, aiohttp for async).
"""

from __future__ import annotations

import asyncio
import http.client
import random
import secrets
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson

from signet_sdk import __version__
from signet_sdk.errors import SignetError
from signet_sdk.retry_after import parse_retry_after

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
EVENTS_PATH = "/v1/events"
BULK_PATH = "/v1/events/bulk"
MAX_BULK_EVENTS = 500  # the ingest's default per request
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"signet-python/{__version__}"
T = TypeVar("T")


# -- errors -----------------------------------------------------------------------------


class ClientError(SignetError):
    """The ingest refused a request; ``problem`` is its problem+json body when it sent one."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """``[{"field", "code", "message"}, …]`` from the problem body."""
        return list(self.problem.get("errors") or [])


class AuthenticationError(ClientError):
    """The publishable key is missing, malformed, unknown or revoked."""


class InvalidEventError(ClientError):
    """The event breaks a rule (field, size, type); ``errors`` names each bad field."""


class IdempotencyConflictError(ClientError):
    """The idempotency key was already used for a different event within 24 h."""


class UnavailableError(ClientError):
    """Still no acknowledgement after every retry; safe to retry later with the same key."""

    retriable: ClassVar[bool] = True


# -- values -----------------------------------------------------------------------------


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
class _Request:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True, frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None


@dataclass(slots=True, frozen=True)
class _Pause:
    seconds: float


@dataclass(slots=True, frozen=True)
class _NetworkFailure:
    reason: str


# What a flow yields, and what it is sent back for a request (None after a pause).
_Step = _Request | _Pause
_Reply = _Response | _NetworkFailure | None
_Flow = Generator[_Step, _Reply, T]


def new_idempotency_key() -> str:
    """A fresh key (what the clients use when the caller gives none)."""
    return f"sdk_{secrets.token_urlsafe(18)}"


# -- the flows: what to send, when to retry, what an answer means -----------------------


def _exchange(request: _Request, policy: RetryPolicy) -> _Flow[_Response]:
    """Send ``request`` until it gets an answer that is not worth retrying."""
    reason = "no attempt was made"
    for attempt in range(1, policy.max_attempts + 1):
        reply = yield request
        retry_after = None
        if isinstance(reply, _Response):
            if reply.status not in RETRY_STATUSES:
                return reply
            retry_after = reply.headers.get("retry-after")
            reason = f"HTTP {reply.status}"
        elif isinstance(reply, _NetworkFailure):
            reason = reply.reason
        if attempt < policy.max_attempts:
            yield _Pause(policy.delay(attempt, retry_after))
    raise UnavailableError(
        f"no acknowledgement after {policy.max_attempts} attempts (last: {reason}); "
        "retrying later with the same idempotency key is safe"
    )


def _raise_for(response: _Response) -> None:
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


def _emit_flow(
    headers: dict[str, str], body: Mapping[str, Any], key: str, policy: RetryPolicy
) -> _Flow[str]:
    request = _Request(EVENTS_PATH, orjson.dumps(body), {**headers, "idempotency-key": key})
    response = yield from _exchange(request, policy)
    document = response.json()
    if response.status != 202 or not isinstance(document, dict) or "id" not in document:
        _raise_for(response)
    return str(document["id"])


def _bulk_flow(
    headers: dict[str, str],
    events: Sequence[Mapping[str, Any]],
    policy: RetryPolicy,
    chunk_size: int,
) -> _Flow[list[BulkItem]]:
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
            response = yield from _exchange(_Request(BULK_PATH, body, headers), policy)
            answered = _bulk_items(response, pending, keyed)
            results.update(answered)
            pending = [i for i in pending if answered[i].status == "failed"]
            if not pending:
                break
            if attempt < policy.max_attempts:
                yield _Pause(policy.delay(attempt))
    return [results[i] for i in range(len(keyed))]


def _bulk_items(
    response: _Response, sent: list[int], keyed: list[dict[str, Any]]
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
                _raise_for(response)  # the request itself is wrong, not one event
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
    _raise_for(response)
    raise AssertionError("unreachable")  # _raise_for always raises


class _ClientBase:
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
    ) -> _Flow[str]:
        body = {"event": event, "resource": resource, "resource_id": resource_id}
        key = idempotency_key or new_idempotency_key()
        return _emit_flow(self._headers, {**body, "payload": payload}, key, self._retry)

    def _bulk(self, events: Sequence[Mapping[str, Any]]) -> _Flow[list[BulkItem]]:
        return _bulk_flow(self._headers, list(events), self._retry, self._chunk)


# -- sync -------------------------------------------------------------------------------


class EventsClient(_ClientBase):
    """Blocking client; thread-safe (one keep-alive connection per thread)."""

    def __init__(
        self,
        publishable_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_seconds: float = 10.0,
        retry: RetryPolicy | None = None,
        max_bulk_events: int = MAX_BULK_EVENTS,
    ) -> None:
        super().__init__(publishable_key, base_url, timeout_seconds, retry, max_bulk_events)
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def emit(
        self,
        *,
        event: str,
        resource: str,
        resource_id: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        """Emit one event and return its id (``evt_…``) once the broker acknowledged it."""
        return self._drive(self._emit(event, resource, resource_id, payload, idempotency_key))

    def emit_bulk(self, events: Sequence[Mapping[str, Any]]) -> list[BulkItem]:
        """Emit many events; one :class:`BulkItem` per event, in order."""
        return self._drive(self._bulk(events))

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def __enter__(self) -> EventsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drive(self, flow: _Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, _Pause):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            parts = urlsplit(self.base_url)
            kind = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = kind(parts.hostname or "", parts.port, timeout=self._timeout)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _send(self, request: _Request) -> _Response | _NetworkFailure:
        connection = self._connection()
        path = urlsplit(self.base_url).path + request.path
        try:
            connection.request("POST", path, body=request.body, headers=request.headers)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # reconnects on the next request
            return _NetworkFailure(f"{type(exc).__name__}: {exc}")
        headers = {name.lower(): value for name, value in answer.getheaders()}
        return _Response(answer.status, headers, body)


# -- async ------------------------------------------------------------------------------


class AsyncEventsClient(_ClientBase):
    """The same client for asyncio; pass ``session`` to share an aiohttp session."""

    def __init__(
        self,
        publishable_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_seconds: float = 10.0,
        retry: RetryPolicy | None = None,
        max_bulk_events: int = MAX_BULK_EVENTS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(publishable_key, base_url, timeout_seconds, retry, max_bulk_events)
        self._session = session
        self._owns_session = session is None

    async def emit(
        self,
        *,
        event: str,
        resource: str,
        resource_id: str,
        payload: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        """Emit one event and return its id (``evt_…``) once the broker acknowledged it."""
        return await self._drive(self._emit(event, resource, resource_id, payload, idempotency_key))

    async def emit_bulk(self, events: Sequence[Mapping[str, Any]]) -> list[BulkItem]:
        """Emit many events; one :class:`BulkItem` per event, in order."""
        return await self._drive(self._bulk(events))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def __aenter__(self) -> AsyncEventsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _drive(self, flow: _Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, _Pause):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _send(self, request: _Request) -> _Response | _NetworkFailure:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        try:
            async with self._session.post(
                self.base_url + request.path,
                data=request.body,
                headers=request.headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as answer:
                body = await answer.read()
                headers = {name.lower(): value for name, value in answer.headers.items()}
                return _Response(answer.status, headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _NetworkFailure(f"{type(exc).__name__}: {exc}")
