"""The delivery log's routes: list deliveries, one delivery, one event with every attempt,
the signed export, and the public log key.

Session-scoped like every workspace route: each query names the token's workspace, so
another workspace's delivery or event id is simply not found (404), and no answer can
carry another workspace's body. Admins and viewers may read all of it. Each route declares
its operation here, next to its handler; the answers are the models of
``delivery_log_models.py``, sent by ``views.answer``, so the document says what is sent.

    register(app, api, delivery_log, session_guard)   # routes + start/stop with the app
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from aiohttp import web
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors
from signet_sdk.ids import now_ms

from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.delivery_log.chain import is_name
from services.portal.delivery_log.errors import InvalidCursor, RecordRejected, StoreUnavailable
from services.portal.delivery_log.export import export_lines
from services.portal.delivery_log.query import DeliveryQuery, read_delivery_query
from services.portal.delivery_log.service import DeliveryLog
from services.portal.delivery_log.signing import LogKeys
from services.portal.delivery_log.store import LogStore
from services.portal.delivery_log_models import (
    DeliveryPage,
    DeliveryWithAttempts,
    LoggedDelivery,
    LoggedEvent,
    LogSigningKeys,
)
from services.portal.problems import log_unavailable
from services.portal.sessions import SessionClaims
from services.portal.views import answer
from signet.api.operations import Api, Reply, operation, problem
from signet.security.hash_chain import HEAD_FIELDS, SIGNING_KEY_PATH
from signet.web import not_found

logger = logging.getLogger(__name__)

DELIVERIES = "/v1/workspace/deliveries"
DELIVERY = DELIVERIES + "/{delivery_id}"
EVENT = "/v1/workspace/events/{event_id}"
EXPORT = "/v1/workspace/log/export"
EXPORT_MEDIA_TYPE = "application/x-ndjson"
EXPORT_CHUNK_BYTES = 64 * 1024
TAG = "delivery log"
SessionHandler = Callable[[web.Request, SessionClaims], Awaitable[web.StreamResponse]]

_READ_ERRORS = {
    401: problem("missing, forged or expired session token"),
    403: problem("an origin the session does not allow"),
    503: problem("the delivery log database is unavailable", **{"Retry-After": "seconds"}),
}
_EXPORT_DESCRIPTION = (
    "JSON Lines: one line per attempt (its fields, seq, prev_hash, hash) or payload "
    'erasure ({"kind": "erasure", "workspace_id", "event_id", "erased_at", seq, prev_hash, '
    "hash}), then "
    '{"head": {' + ", ".join(HEAD_FIELDS) + '}, "signature": base64 Ed25519}. '
    "Verify with `signet verify-log FILE --public-key …`."
)


def _store_errors(handler: SessionHandler) -> SessionHandler:
    """The log database's errors as answers: a bad cursor is the client's, an outage ours."""

    async def translated(request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        try:
            return await handler(request, claims)
        except InvalidCursor as exc:
            raise FieldErrors([FieldError("cursor", FieldErrorCode.FORMAT, str(exc))]) from exc
        except RecordRejected as exc:  # a value no record can hold: nothing matches it
            raise not_found("nothing in the delivery log matches") from exc
        except StoreUnavailable as exc:
            logger.warning("delivery log unavailable: %s", exc)
            raise log_unavailable() from exc

    return translated


class LogApi:
    def __init__(self, store: LogStore, keys: LogKeys, guard: SessionGuard) -> None:
        self._store = store
        self._keys = keys
        self._guard = guard

    def register(self, app: web.Application, api: Api) -> None:
        def read(handler: SessionHandler) -> Callable[[web.Request], Awaitable[Any]]:
            return self._guard.protect(_store_errors(handler), write=False)

        for handler in (self.list_deliveries, self.get_delivery, self.get_event, self.export):
            api.route(app, handler, serve=read(handler))
        api.route(app, self.signing_key)

    @operation(
        "GET",
        DELIVERIES,
        summary="The workspace's deliveries, newest first (cursor pagination)",
        tags=[TAG],
        security=[SESSION_TOKEN],
        query=DeliveryQuery,
        responses={
            200: Reply("a page", DeliveryPage),
            400: problem("a bad query parameter; `errors` names it"),
            **_READ_ERRORS,
        },
        operation_id="list_deliveries",
    )
    async def list_deliveries(self, request: web.Request, claims: SessionClaims) -> web.Response:
        query = read_delivery_query(request.query)
        page = await self._store.list_deliveries(
            claims.workspace_id, query.filters, query.cursor, query.limit
        )
        return answer(
            DeliveryPage(
                data=[LoggedDelivery.of(d) for d in page.items],
                next_cursor=page.next_cursor,
                has_more=page.next_cursor is not None,
            )
        )

    @operation(
        "GET",
        DELIVERY,
        summary="One delivery with every attempt",
        tags=[TAG],
        security=[SESSION_TOKEN],
        responses={
            200: Reply("it", DeliveryWithAttempts),
            404: problem("no such delivery in this workspace"),
            **_READ_ERRORS,
        },
        operation_id="get_delivery",
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
        return answer(DeliveryWithAttempts.of(found, attempts))

    @operation(
        "GET",
        EVENT,
        summary="An event and every attempt to every destination",
        tags=[TAG],
        security=[SESSION_TOKEN],
        responses={
            200: Reply("it", LoggedEvent),
            404: problem("no such event in this workspace's log"),
            **_READ_ERRORS,
        },
        operation_id="get_event",
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
        return answer(LoggedEvent.of(found))

    @operation(
        "GET",
        EXPORT,
        summary="The workspace's hash-chained delivery log with a signed head",
        description=_EXPORT_DESCRIPTION,
        tags=[TAG],
        security=[SESSION_TOKEN],
        responses={
            200: Reply(
                "the export",
                media_type=EXPORT_MEDIA_TYPE,
                headers={
                    "Content-Disposition": 'attachment; filename="signet-log-<ms>.jsonl"',
                    "Cache-Control": "no-store",
                },
            ),
            **_READ_ERRORS,
        },
        operation_id="export_delivery_log",
    )
    async def export(self, request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        workspace_id = claims.workspace_id
        exported_at = now_ms()
        lines = export_lines(self._store, workspace_id, self._keys.signer, exported_at=exported_at)
        async with aclosing(lines):
            # The first line before the headers: an unavailable log is still a clean 503.
            first = await anext(lines)
            response = web.StreamResponse(
                headers={
                    "Content-Type": EXPORT_MEDIA_TYPE,
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

    @operation(
        "GET",
        SIGNING_KEY_PATH,
        summary="The platform's Ed25519 public key that signs log exports",
        tags=[TAG],
        responses={
            200: Reply(
                "the signing key, and every key still published",
                LogSigningKeys,
                headers={"Cache-Control": "public, max-age=300"},
            ),
        },
        operation_id="log_signing_key",
    )
    async def signing_key(self, request: web.Request) -> web.Response:
        keys = LogSigningKeys.model_validate(self._keys.document())
        return answer(keys, headers={"Cache-Control": "public, max-age=300"})


def register(
    app: web.Application, api: Api, delivery_log: DeliveryLog, guard: SessionGuard
) -> None:
    """Add the log's routes to ``app`` (declared in ``api``) and run the log (store,
    projection) with it."""
    LogApi(delivery_log.store, delivery_log.keys, guard).register(app, api)
    app.cleanup_ctx.append(delivery_log.running)
