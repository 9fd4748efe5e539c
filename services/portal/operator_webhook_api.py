"""The operator's webhook (``Bearer <SIGNET_OPERATOR_KEY>``): where Signet tells the
operator's own backend about destinations and deliveries, and the log of what it sent.

    PUT    /v1/operator-webhook                        set it (the secret shown once, if generated)
    GET    /v1/operator-webhook                        it, without the secret (404: none set)
    DELETE /v1/operator-webhook                        remove it: nothing more is sent
    GET    /v1/operator-webhook/deliveries             what was sent, newest first
    GET    /v1/operator-webhook/deliveries/{id}        one, with every attempt

Event-sourced like the rest of the configuration, but on a topic of its own
(``operator-webhook``, compacted, one key: ``signet/operator_webhook/view.py``): a write is
produced there and answered once this portal's own view shows it (read-your-writes). The
secret is sealed like a destination's (``signet/security/secrets.py``), under the
operator webhook's own AAD. The deliveries are the delivery log's rows under the reserved
operator workspace, read with the same queries and answered in the same shapes as a
workspace's (``delivery_log_api.py``), the way Svix's and Convoy's operator views list
each message with its attempts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, Field, StringConstraints
from signet_sdk import signing
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, RuleError
from signet_sdk.contract.models import Answer, Body
from signet_sdk.ids import new_id, now_ms

from services.portal.auth import OPERATOR_KEY, OperatorGuard
from services.portal.body_fields import plain_text
from services.portal.commands import CommandProducer
from services.portal.delivery_log.chain import is_name
from services.portal.delivery_log.errors import InvalidCursor, StoreUnavailable
from services.portal.delivery_log.query import DeliveryQuery, read_delivery_query
from services.portal.delivery_log.store import LogStore
from services.portal.delivery_log_models import DeliveryPage, DeliveryWithAttempts, LoggedDelivery
from services.portal.destination_fields import URL_MAX, webhook_url_error
from services.portal.problems import (
    BODY_ERRORS,
    OPERATOR_READ_ERRORS,
    WRITE_ERRORS,
    log_unavailable,
)
from services.portal.views import answer, at
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import read_model
from signet.errors import CommandTimeoutError
from signet.operator_webhook.events import (
    OPERATOR_WORKSPACE_ID,
    OperationalEvent,
    operator_secret_aad,
)
from signet.operator_webhook.view import KEY, OperatorWebhookView
from signet.records import codec
from signet.records.model import OperatorWebhook as OperatorWebhookRecord
from signet.records.model import SealedSecret, SignatureScheme
from signet.security.secrets import MasterKeyRing, hint
from signet.web import Handler, not_found

logger = logging.getLogger(__name__)

PATH = "/v1/operator-webhook"
DELIVERIES = PATH + "/deliveries"
DELIVERY = DELIVERIES + "/{delivery_id}"
TAG = "operator"
MAX_BODY_BYTES = 16 * 1024
ALL_TYPES = [t.value for t in OperationalEvent]
SCHEME = SignatureScheme.STANDARD_WEBHOOKS.value


# -- body and answer -------------------------------------------------------------------


def _url_rule(url: str) -> str:
    # http too, and any address: it is the operator's own backend, often in-cluster.
    if (message := webhook_url_error(url, allow_insecure=True)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return url


def _secret_rule(secret: str) -> str:
    try:
        signing.validate_secret(SCHEME, secret)
    except signing.SigningError as exc:
        raise RuleError(str(exc), FieldErrorCode.FORMAT) from exc
    return secret


class OperatorWebhookBody(Body):
    url: Annotated[
        str,
        StringConstraints(min_length=1, max_length=URL_MAX),
        Field(
            description="where operational events are POSTed: http or https, and any "
            "address (private and in-cluster ones too: no SSRF guard for it)",
            examples=["http://billing.internal:8000/signet-events"],
        ),
        AfterValidator(plain_text),
        AfterValidator(_url_rule),
    ]
    secret: Annotated[
        str | None,
        Field(
            description="your own whsec_… (Standard Webhooks); left out, the current one "
            "is kept, or on the first PUT one is generated and shown once"
        ),
        AfterValidator(lambda s: s if s is None else _secret_rule(s)),
    ] = None
    event_types: Annotated[
        list[OperationalEvent],
        Field(min_length=1, description="the operational events to send; default: all"),
    ] = Field(default_factory=lambda: list(OperationalEvent))


class OperatorWebhook(Answer):
    url: str
    event_types: list[OperationalEvent]
    secret_hint: str = Field(description="the last characters of the secret")
    created_at: str
    updated_at: str
    secret: Annotated[
        str | None,
        Field(description="the generated whsec_…: only in the answer to the PUT that made it"),
    ] = None

    @classmethod
    def of(cls, hook: OperatorWebhookRecord, secret: str | None = None) -> OperatorWebhook:
        shown = {} if secret is None else {"secret": secret}  # left out: not even null
        return cls(
            url=hook.url,
            event_types=[OperationalEvent(t) for t in hook.event_types],
            secret_hint=hook.secret_hint,
            created_at=at(hook.created_at),
            updated_at=at(hook.updated_at),
            **shown,
        )


_NOT_SET = problem("no operator webhook is set")
_LOG_ERRORS = {
    **OPERATOR_READ_ERRORS,
    503: problem("the delivery log database is unavailable", **{"Retry-After": "seconds"}),
}


# -- routes ----------------------------------------------------------------------------


class OperatorWebhookApi:
    def __init__(
        self,
        *,
        view: OperatorWebhookView,
        producer: CommandProducer,
        ring: MasterKeyRing,
        store: LogStore,
        guard: OperatorGuard,
        timeout_seconds: float,
    ) -> None:
        self._view = view
        self._producer = producer
        self._ring = ring
        self._store = store
        self._guard = guard
        self._timeout = timeout_seconds

    def register(self, app: web.Application, api: Api) -> None:
        for handler in (self.put, self.get, self.delete):
            api.route(app, handler, serve=self._guard.protect(handler))
        for handler in (self.list_deliveries, self.get_delivery):
            api.route(app, handler, serve=self._guard.protect(_log_errors(handler)))

    @operation(
        "PUT",
        PATH,
        summary="Set the operator webhook: operational events go to your own backend",
        body=OperatorWebhookBody,
        responses={200: Reply("set", OperatorWebhook), **WRITE_ERRORS, **BODY_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
        operation_id="put_operator_webhook",
    )
    async def put(self, request: web.Request) -> web.Response:
        body = await read_model(request, OperatorWebhookBody, MAX_BODY_BYTES)
        current, now = self._view.current, now_ms()
        shown: str | None = None
        if body.secret is not None:
            sealed, secret_hint = self._seal(body.secret)
        elif current is not None:  # kept as it is
            sealed, secret_hint = current.secret, current.secret_hint
        else:
            shown = signing.generate_secret(SCHEME).secret
            sealed, secret_hint = self._seal(shown)
        record = OperatorWebhookRecord(
            id=new_id("owh", now_ms=now),
            url=body.url,
            secret=sealed,
            secret_hint=secret_hint,
            event_types=list(dict.fromkeys(t.value for t in body.event_types)),
            created_at=current.created_at if current is not None else now,
            updated_at=now,
        )
        await self._write(codec.encode(record), lambda: _is(self._view.current, record.id))
        return answer(OperatorWebhook.of(record, shown))

    @operation(
        "GET",
        PATH,
        summary="The operator webhook, without its secret",
        responses={200: Reply("it", OperatorWebhook), 404: _NOT_SET, **OPERATOR_READ_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
        operation_id="get_operator_webhook",
    )
    async def get(self, request: web.Request) -> web.Response:
        hook = self._view.current
        if hook is None:
            raise not_found("no operator webhook is set")
        return answer(OperatorWebhook.of(hook))

    @operation(
        "DELETE",
        PATH,
        summary="Remove the operator webhook (idempotent): nothing more is sent, queued "
        "events end unsent",
        responses={
            204: Reply("removed"),
            401: WRITE_ERRORS[401],
            503: WRITE_ERRORS[503],
            504: WRITE_ERRORS[504],
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
        operation_id="delete_operator_webhook",
    )
    async def delete(self, request: web.Request) -> web.Response:
        if self._view.current is not None:
            await self._write(None, lambda: self._view.current is None)
        return web.Response(status=204)

    def _seal(self, secret: str) -> tuple[SealedSecret, str]:
        return self._ring.seal(secret.encode(), operator_secret_aad()), hint(secret)

    async def _write(self, value: bytes | None, seen: Callable[[], bool]) -> None:
        """Produce, then wait for our own view to show it; one deadline for both.
        BrokerError (503) when not written; CommandTimeoutError (504) when not seen."""
        deadline = time.monotonic() + self._timeout
        await self._producer.send(self._view.topic, value, key=KEY, timeout=self._timeout)
        if not await self._view.wait_for(seen, max(0.0, deadline - time.monotonic())):
            raise CommandTimeoutError(
                f"the operator webhook was written but not seen within {self._timeout:g}s"
            )

    # -- what was sent ---------------------------------------------------------------------

    @operation(
        "GET",
        DELIVERIES,
        summary="The operational events sent to the operator webhook, newest first: each "
        "with its type, status and attempt count (cursor pagination)",
        query=DeliveryQuery,
        responses={
            200: Reply("a page", DeliveryPage),
            400: problem("a bad query parameter; `errors` names it"),
            **_LOG_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
        operation_id="list_operator_webhook_deliveries",
    )
    async def list_deliveries(self, request: web.Request) -> web.Response:
        query = read_delivery_query(request.query)
        page = await self._store.list_deliveries(
            OPERATOR_WORKSPACE_ID, query.filters, query.cursor, query.limit
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
        summary="One operational event sent to the operator webhook, with every attempt",
        responses={
            200: Reply("it", DeliveryWithAttempts),
            404: problem("no such delivery"),
            **_LOG_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
        operation_id="get_operator_webhook_delivery",
    )
    async def get_delivery(self, request: web.Request) -> web.Response:
        delivery_id = request.match_info["delivery_id"]
        found = (
            await self._store.get_delivery(OPERATOR_WORKSPACE_ID, delivery_id)
            if is_name(delivery_id)
            else None
        )
        if found is None:
            raise not_found(f"no delivery {delivery_id}")
        attempts = await self._store.attempts(OPERATOR_WORKSPACE_ID, delivery_id)
        return answer(DeliveryWithAttempts.of(found, attempts))


def _is(hook: OperatorWebhookRecord | None, revision: str) -> bool:
    return hook is not None and hook.id == revision


def _log_errors(handler: Handler) -> Handler:
    async def translated(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InvalidCursor as exc:
            raise FieldErrors([FieldError("cursor", FieldErrorCode.FORMAT, str(exc))]) from exc
        except StoreUnavailable as exc:
            logger.warning("delivery log unavailable: %s", exc)
            raise log_unavailable() from exc

    return translated
