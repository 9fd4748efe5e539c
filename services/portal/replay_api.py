"""Replaying deliveries (admin only): one delivery again, or a destination's failed
deliveries of a time range.

Scoped like every workspace route (``action_targets.py``); what may be replayed and how a
replay is built is ``replay.py``'s. Each route declares its operation next to its handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal.action_targets import LOG_ERRORS, log_errors, sendable, workspace_of
from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.commands import ConfigReader
from services.portal.delivery_log.store import DeliveryRecord, LogStore
from services.portal.erasure_api import payload_erased
from services.portal.problems import BODY_ERRORS, conflict
from services.portal.replay import (
    DeliveryOutbox,
    LogCatchUp,
    Recovered,
    RecoverRequest,
    Replayed,
    plan_recovery,
    replay_delivery,
)
from services.portal.sessions import SessionClaims
from services.portal.views import answer
from signet import tracing
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import read_model
from signet.kafka.clients import AsyncProducer
from signet.records.model import Delivery
from signet.records.payload import iso_utc_ms
from signet.settings import PortalSettings
from signet.web import not_found

MAX_BODY_BYTES = 16 * 1024
# The span under which replays are produced, and how many originals' traces it links.
REPLAY_SPAN = "signet.replay"
LINKED_MAX = 32
Headers = Mapping[str, str]
RECOVER = "/v1/workspace/destinations/{destination_id}/recover"
REPLAY = "/v1/workspace/deliveries/{delivery_id}/replay"
TAG = "actions"


class ReplayApi:
    def __init__(
        self,
        *,
        view: ConfigReader,
        guard: SessionGuard,
        store: LogStore,
        outbox: DeliveryOutbox,
        recover_limit: int,
        catch_up: LogCatchUp | None = None,
    ) -> None:
        self._view = view
        self._guard = guard
        self._store = store
        self._outbox = outbox
        self._recover_limit = recover_limit
        self._catch_up = catch_up or LogCatchUp()

    @classmethod
    def from_settings(
        cls,
        settings: PortalSettings,
        *,
        view: ConfigReader,
        guard: SessionGuard,
        producer: AsyncProducer,
        store: LogStore,
    ) -> ReplayApi:
        return cls(
            view=view,
            guard=guard,
            store=store,
            outbox=DeliveryOutbox.from_settings(settings, producer),
            recover_limit=settings.recover_max_per_call,
        )

    def register(self, app: web.Application, api: Api) -> None:
        for handler in (self.recover, self.replay):
            api.route(app, handler, serve=self._guard.protect(log_errors(handler), write=True))

    @operation(
        "POST",
        REPLAY,
        summary="Replay one delivery: same event id (webhook-id) and body, fresh signature "
        "and timestamp",
        description="No body. A delivery whose body the log is about to record (its attempt "
        "logged a moment before) is waited for, a few seconds at most.",
        responses={
            202: Reply("queued", Replayed),
            409: problem(
                "its destination is gone or disabled, its body is not logged yet, or its "
                "event's payload was erased (`code: payload_erased`)"
            ),
            **LOG_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def replay(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        original_id = request.match_info["delivery_id"]
        record = await self._store.get_delivery(config.workspace_id, original_id)
        if record is None:
            raise not_found(f"no delivery {original_id}")
        if record.payload_erased_at is not None:  # for good, whatever the destination
            raise payload_erased(record.event_id, record.payload_erased_at)
        if config.destination(record.destination_id) is None:
            raise conflict(f"destination {record.destination_id} no longer exists")
        sendable(config, record.destination_id)
        if record.body is None:
            record = await self._logged_body(config.workspace_id, record)
        if record.payload_erased_at is not None:  # erased while we waited
            raise payload_erased(record.event_id, record.payload_erased_at)
        if record.body is None:
            raise conflict(f"the log has not recorded the body of {original_id} yet; retry")
        delivery = replay_delivery(record, record.body, now_ms=now_ms())
        await self._send([delivery], await self._first_sent(config.workspace_id, [record]))
        return answer(Replayed.of(delivery), 202)

    async def _send(self, deliveries: Sequence[Delivery], originals: list[Headers]) -> None:
        """Produce the replays under a span of the request's trace that links the traces
        their originals were first sent in (a trace backend jumps from one to the other)."""
        with tracing.linked_span(REPLAY_SPAN, originals, {"signet.deliveries": len(deliveries)}):
            await self._outbox.send(deliveries)

    async def _first_sent(
        self, workspace_id: str, records: Sequence[DeliveryRecord]
    ) -> list[Headers]:
        """The headers of each record's first attempt, for the first ``LINKED_MAX`` of
        them: only when the request's span is exported, as they cost a lookup each."""
        if not tracing.recording():
            return []
        sent = []
        for record in records[:LINKED_MAX]:
            attempts = await self._store.attempts(workspace_id, record.id)
            if attempts:
                sent.append(attempts[0].request_headers)
        return sent

    async def _logged_body(self, workspace_id: str, record: DeliveryRecord) -> DeliveryRecord:
        """``record`` once the log has its body, or as it is when the wait is over."""

        async def read() -> Sequence[DeliveryRecord]:
            again = await self._store.get_delivery(workspace_id, record.id)
            return [record if again is None else again]

        [latest] = await self._catch_up.with_bodies(read)
        return latest

    @operation(
        "POST",
        RECOVER,
        summary="Replay the destination's failed and exhausted deliveries of a time range "
        "(event time), oldest first, a bounded number per call",
        body=RecoverRequest,
        responses={
            202: Reply("replayed", Recovered),
            409: problem(
                "a Slack channel or a disabled destination, or every failed delivery of the "
                "range is of an event whose payload was erased (`code: payload_erased`)"
            ),
            **LOG_ERRORS,
            **BODY_ERRORS,
        },
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def recover(self, request: web.Request, claims: SessionClaims) -> web.Response:
        config = workspace_of(self._view, claims)
        destination = sendable(config, request.match_info["destination_id"])
        wanted = await read_model(request, RecoverRequest, MAX_BODY_BYTES)
        limit = self._recover_limit

        async def read() -> Sequence[DeliveryRecord]:
            return await self._store.failed_deliveries(
                config.workspace_id, destination.id, wanted.since_ms, wanted.until_ms, limit + 1
            )

        plan = plan_recovery(await self._catch_up.with_bodies(read), limit)
        if plan.erased and not plan.replay and not plan.without_body:
            # Nothing to recover but erased events: say why rather than replay nothing.
            first = plan.erased[0]
            raise payload_erased(first.event_id, first.payload_erased_at)
        started = now_ms()
        deliveries = [
            replay_delivery(r, r.body, now_ms=started) for r in plan.replay if r.body is not None
        ]
        await self._send(deliveries, await self._first_sent(config.workspace_id, plan.replay))
        recovered: dict[str, object] = {
            "replayed": len(deliveries),
            "truncated": plan.truncated,
            "deliveries": [Replayed.of(d) for d in deliveries],
        }
        if plan.next_since_ms is not None:
            recovered["next_since"] = iso_utc_ms(plan.next_since_ms)
        if plan.without_body:
            recovered["skipped_without_body"] = plan.without_body
        if plan.erased:
            recovered["skipped_erased"] = len(plan.erased)
        return answer(Recovered.model_validate(recovered), 202)
