"""The asyncio events client, over aiohttp: the blocking client's methods as coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

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


class AsyncEventsClient(ClientBase):
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

    async def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._send(step))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _send(self, request: Request) -> Response | NetworkFailure:
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
                return Response(answer.status, headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return NetworkFailure(f"{type(exc).__name__}: {exc}")
