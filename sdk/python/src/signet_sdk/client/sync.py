"""The blocking events client, over ``http.client``: one keep-alive connection a thread."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from signet_sdk.client.flows import (
    DEFAULT_BASE_URL,
    MAX_BULK_EVENTS,
    BulkItem,
    ClientBase,
    Flow,
    NetworkFailure,
    Pause,
    Request,
    Response,
    RetryPolicy,
    T,
)


class EventsClient(ClientBase):
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

    def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Pause):
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

    def _send(self, request: Request) -> Response | NetworkFailure:
        connection = self._connection()
        path = urlsplit(self.base_url).path + request.path
        try:
            connection.request("POST", path, body=request.body, headers=request.headers)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # reconnects on the next request
            return NetworkFailure(f"{type(exc).__name__}: {exc}")
        headers = {name.lower(): value for name, value in answer.getheaders()}
        return Response(answer.status, headers, body)
