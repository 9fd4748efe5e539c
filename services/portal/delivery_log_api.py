"""The delivery log's routes: list deliveries, one delivery, one event with every attempt,
the signed export, and the public log key.

Session-scoped like every workspace route: each query names the token's workspace, so
another workspace's delivery or event id is simply not found (404), and no answer can
carry another workspace's body. Admins and viewers may read all of it.

    register(app, delivery_log, session_guard)   # routes + start/stop with the app
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import orjson
from aiohttp import web

from services.portal.auth import SessionGuard
from services.portal.delivery_log.chain import is_name
from services.portal.delivery_log.errors import InvalidCursor, RecordRejected, StoreUnavailable
from services.portal.delivery_log.export import export_lines
from services.portal.delivery_log.query import read_delivery_query
from services.portal.delivery_log.service import DeliveryLog
from services.portal.delivery_log.store import AttemptRecord, DeliverySummary, EventRecord
from services.portal.errors import FieldError, InvalidInput
from services.portal.sessions import SessionClaims
from services.portal.views import iso
from signet.ids import now_ms
from signet.security.hash_chain import SIGNING_KEY_PATH
from signet.web import Problem, json_response, not_found

logger = logging.getLogger(__name__)

DELIVERIES = "/v1/workspace/deliveries"
DELIVERY = DELIVERIES + "/{delivery_id}"
EVENT = "/v1/workspace/events/{event_id}"
EXPORT = "/v1/workspace/log/export"
EXPORT_CHUNK_BYTES = 64 * 1024
SessionHandler = Callable[[web.Request, SessionClaims], Awaitable[web.StreamResponse]]


def attempt_view(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "attempted_at": iso(attempt.attempted_at),
        "http_status": attempt.http_status,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
        "url": attempt.url,
        "request_headers": dict(attempt.request_headers),
        "next_attempt_at": iso(attempt.next_attempt_at),
        "replay_of": attempt.replay_of,
        "seq": attempt.seq,
        "hash": attempt.hash,
    }


def delivery_view(delivery: DeliverySummary) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "destination_id": delivery.destination_id,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_attempt_id": delivery.last_attempt_id,
        "last_attempt_at": iso(delivery.last_attempt_at),
        "last_http_status": delivery.last_http_status,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "replay_of": delivery.replay_of,
        "event_created_at": iso(delivery.event_created_at),
        "created_at": iso(delivery.first_seen_at),
        "updated_at": iso(delivery.updated_at),
    }


def event_view(event: EventRecord) -> dict[str, Any]:
    sent: Any = None
    if event.body is not None:
        try:
            sent = orjson.loads(event.body)
        except orjson.JSONDecodeError:
            sent = None  # not ours to fail on: the bytes were sent as they are
    sent = sent if isinstance(sent, dict) else {}
    return {
        "id": event.event_id,
        "type": event.event_type,
        "created_at": iso(event.created_at),
        "resource": sent.get("resource"),
        "resource_id": sent.get("resource_id"),
        "data": sent.get("data"),
        "deliveries": [
            {**delivery_view(h.delivery), "attempts": [attempt_view(a) for a in h.attempts]}
            for h in event.deliveries
        ],
    }


def _store_errors(handler: SessionHandler) -> SessionHandler:
    """The log database's errors as answers: a bad cursor is the client's, an outage ours."""

    async def translated(request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        try:
            return await handler(request, claims)
        except InvalidCursor as exc:
            raise InvalidInput([FieldError("cursor", str(exc))]) from exc
        except RecordRejected as exc:  # a value no record can hold: nothing matches it
            raise not_found("nothing in the delivery log matches") from exc
        except StoreUnavailable as exc:
            logger.warning("delivery log unavailable: %s", exc)
            raise Problem(
                503,
                "Delivery log unavailable",
                "the delivery log database did not answer; retry",
                kind="log-unavailable",
                headers={"Retry-After": "2"},
            ) from exc

    return translated


class LogApi:
    def __init__(self, delivery_log: DeliveryLog, guard: SessionGuard) -> None:
        self._log = delivery_log
        self._store = delivery_log.store
        self._guard = guard

    def register(self, app: web.Application) -> None:
        def read(handler: SessionHandler) -> Callable[[web.Request], Awaitable[Any]]:
            return self._guard.protect(_store_errors(handler), write=False)

        app.router.add_get(DELIVERIES, read(self.list_deliveries))
        app.router.add_get(DELIVERY, read(self.get_delivery))
        app.router.add_get(EVENT, read(self.get_event))
        app.router.add_get(EXPORT, read(self.export))
        app.router.add_get(SIGNING_KEY_PATH, self.signing_key)

    async def list_deliveries(self, request: web.Request, claims: SessionClaims) -> web.Response:
        query = read_delivery_query(request.query)
        page = await self._store.list_deliveries(
            claims.workspace_id, query.filters, query.cursor, query.limit
        )
        return json_response(
            {
                "data": [delivery_view(d) for d in page.items],
                "next_cursor": page.next_cursor,
                "has_more": page.next_cursor is not None,
            }
        )

    async def get_delivery(self, request: web.Request, claims: SessionClaims) -> web.Response:
        delivery_id = request.match_info["delivery_id"]
        found = (
            await self._store.get_delivery(claims.workspace_id, delivery_id)
            if is_name(delivery_id)
            else None
        )
        if found is None:
            raise not_found(f"no delivery {delivery_id}")
        attempts = await self._store.attempts(claims.workspace_id, delivery_id)
        return json_response(
            {**delivery_view(found), "attempts": [attempt_view(a) for a in attempts]}
        )

    async def get_event(self, request: web.Request, claims: SessionClaims) -> web.Response:
        event_id = request.match_info["event_id"]
        found = (
            await self._store.get_event(claims.workspace_id, event_id)
            if is_name(event_id)
            else None
        )
        if found is None:
            raise not_found(f"no event {event_id} in the delivery log")
        return json_response(event_view(found))

    async def export(self, request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        workspace_id = claims.workspace_id
        exported_at = now_ms()
        lines = export_lines(
            self._store, workspace_id, self._log.keys.signer, exported_at=exported_at
        )
        async with aclosing(lines):
            # The first line before the headers: an unavailable log is still a clean 503.
            first = await anext(lines)
            response = web.StreamResponse(
                headers={
                    "Content-Type": "application/x-ndjson",
                    "Content-Disposition": f'attachment; filename="signet-log-{exported_at}.jsonl"',
                    "Cache-Control": "no-store",
                }
            )
            await response.prepare(request)
            buffer = bytearray(first)
            async for line in lines:
                buffer += line
                if len(buffer) >= EXPORT_CHUNK_BYTES:
                    await response.write(bytes(buffer))
                    buffer.clear()
            await response.write(bytes(buffer))
            await response.write_eof()
        return response

    async def signing_key(self, request: web.Request) -> web.Response:
        return json_response(
            self._log.keys.document(), headers={"Cache-Control": "public, max-age=300"}
        )


def register(app: web.Application, delivery_log: DeliveryLog, guard: SessionGuard) -> None:
    """Add the log's routes to ``app`` and run the log (store, projection) with it."""
    LogApi(delivery_log, guard).register(app)
    app.cleanup_ctx.append(delivery_log.running)
