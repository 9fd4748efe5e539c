"""Erasing an event's payload from the delivery log (admin sessions).

``DELETE /v1/workspace/events/{event_id}/payload`` does not touch the database itself: it
produces a ``PayloadErasure`` to ``signet.payload-erasures`` (keyed by workspace) and
answers ``202``; the log projection then drops the body of every delivery of the event,
refuses any later copy of it, and adds an ``erasure`` entry to the workspace's chain
(``delivery_log/erasure_writes.py``). Asking again for an event already erased produces
nothing and answers the same. What Kafka itself still holds is in docs/operations.md
(Retention and erasure).

Replay and recover refuse an erased event with ``409`` and ``code: payload_erased``
(:func:`payload_erased`).
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.contract.models import Answer
from signet_sdk.ids import new_id, now_ms

from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.body_fields import NULL_UNDOCUMENTED
from services.portal.delivery_log.chain import is_name
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.store import LogStore
from services.portal.problems import ACTION_ERRORS, log_unavailable
from services.portal.sessions import SessionClaims
from services.portal.views import Time, answer, iso
from signet.api.operations import Api, Reply, operation, problem
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import PayloadErasure
from signet.settings import PortalSettings
from signet.web import Problem, not_found

ERASE_PAYLOAD = "/v1/workspace/events/{event_id}/payload"
TAG = "delivery log"


class ErasureAccepted(Answer):
    """The erasure is on its way to the log (or was done already)."""

    event_id: str
    erasure_id: Annotated[str | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="the erasure record sent; absent when already erased"
    )
    payload_erased_at: Annotated[Time | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="when the log erased it, if it has already"
    )


def payload_erased(event_id: str, erased_at: int | None) -> Problem:
    """The 409 of a replay or recover that would need an erased payload."""
    when = iso(erased_at) or "earlier"
    message = f"the payload of event {event_id} was erased from the log at {when}"
    return Problem(
        409,
        "Payload erased",
        message,
        kind="payload-erased",
        errors=[FieldError("event_id", FieldErrorCode.PAYLOAD_ERASED, message).as_dict()],
    )


class ErasureApi:
    def __init__(
        self,
        *,
        store: LogStore,
        producer: AsyncProducer,
        topic: str,
        timeout_seconds: float,
        guard: SessionGuard,
    ) -> None:
        self._store = store
        self._producer = producer
        self._topic = topic
        self._timeout = timeout_seconds
        self._guard = guard

    @classmethod
    def from_settings(
        cls,
        settings: PortalSettings,
        *,
        store: LogStore,
        producer: AsyncProducer,
        guard: SessionGuard,
    ) -> ErasureApi:
        return cls(
            store=store,
            producer=producer,
            topic=Topics.from_settings(settings).payload_erasures,
            timeout_seconds=settings.command_timeout_seconds,
            guard=guard,
        )

    def register(self, app: web.Application, api: Api) -> None:
        api.route(
            app, self.erase_payload, serve=self._guard.protect(self.erase_payload, write=True)
        )

    @operation(
        "DELETE",
        ERASE_PAYLOAD,
        summary="Erase an event's payload from the delivery log (its attempts stay)",
        description="The log drops the body of every delivery of the event, refuses any "
        "later copy of it, and adds an `erasure` entry to the workspace's chain; the event "
        "then reads `data: null` with `payload_erased_at`, and replay and recover answer "
        "409 `payload_erased`. Idempotent. Kafka keeps its own copies until its topics' "
        "retention removes them (docs/operations.md, Retention and erasure).",
        responses={
            202: Reply("accepted (or already erased)", ErasureAccepted),
            **ACTION_ERRORS,
            404: problem("no such event in this workspace's log"),
            503: problem(
                "Kafka did not take the erasure, or the log database did not answer; "
                "nothing written",
                **{"Retry-After": "seconds"},
            ),
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
        operation_id="erase_event_payload",
    )
    async def erase_payload(self, request: web.Request, claims: SessionClaims) -> web.Response:
        workspace_id = claims.workspace_id
        event_id = request.match_info["event_id"]
        try:
            found = (
                await self._store.get_event(workspace_id, event_id) if is_name(event_id) else None
            )
        except StoreUnavailable as exc:
            raise log_unavailable() from exc
        if found is None:
            raise not_found(f"no event {event_id} in the delivery log")
        if found.payload_erased_at is not None:  # done already: nothing more to send
            accepted = ErasureAccepted(
                event_id=event_id, payload_erased_at=iso(found.payload_erased_at)
            )
            return answer(accepted, 202)
        erasure = PayloadErasure(
            id=new_id("era"),
            workspace_id=workspace_id,
            event_id=event_id,
            requested_at=now_ms(),
            requested_by=claims.session_id,
        )
        # BrokerError (not acknowledged in time) is answered 503 by the portal's middleware.
        await self._producer.send(
            self._topic, codec.encode(erasure), key=workspace_id, timeout=self._timeout
        )
        return answer(ErasureAccepted(event_id=event_id, erasure_id=erasure.id), 202)
