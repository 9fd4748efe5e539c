"""The two event endpoints: ``POST /v1/events`` and ``POST /v1/events/bulk``
(docs/architecture.md#ingest).

A handler authenticates, reads and validates the body, hands valid events to
:class:`~services.ingest.intake.EventIntake`, and answers 202 only after the broker
acknowledged every record it reports as accepted. Anything refused leaves nothing on the
topic: validation happens before the first produce.

Each handler declares its operation (``@operation``) with the models of
:mod:`services.ingest.contract`, made from this process's limits: the handlers are
declared when :class:`EventHandlers` is made, and ``/openapi.json`` is derived from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web
from signet_sdk.contract.events import EventInput, EventInputError, parse_event
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors
from signet_sdk.contract.models import Answer

from services.ingest import problems
from services.ingest.auth import AUTHORIZATION, PublishableKeyAuth
from services.ingest.contract import (
    BULK_ROUTE,
    EVENTS_ROUTE,
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
    AcceptedEntry,
    BulkEntry,
    BulkResult,
    Contract,
    FailedEntry,
    Limits,
    RejectedEntry,
    entry_errors,
    entry_problem,
    event_accepted,
    validate_body,
)
from services.ingest.errors import IdempotencyConflictError
from services.ingest.intake import Accepted, EventIntake
from services.ingest.metrics import IngestMetrics
from signet.api.operations import operation
from signet.api.reading import read_strings
from signet.catalog.events import CatalogReader, event_problems
from signet.errors import BrokerError
from signet.web import Problem, invalid_request, read_json

Handler = Callable[[web.Request], Awaitable[web.Response]]


class EventHandlers:
    """``post_event`` and ``post_bulk``, each declared with its operation."""

    def __init__(
        self,
        auth: PublishableKeyAuth,
        intake: EventIntake,
        metrics: IngestMetrics,
        limits: Limits,
        catalog: CatalogReader,
        *,
        require_cataloged: bool = False,
    ) -> None:
        self._auth = auth
        self._catalog = catalog
        self._require_cataloged = require_cataloged
        self._intake = intake
        self._metrics = metrics
        self._limits = limits
        self.contract = Contract.of(limits)
        self.post_event, self.post_bulk = self._declare()

    def _declare(self) -> tuple[Handler, Handler]:
        # Declared here, not on the methods: the operations' models carry this process's
        # limits, known only now.
        @operation("POST", EVENTS_ROUTE, **self.contract.event_operation())
        async def post_event(request: web.Request) -> web.Response:
            return await self._post_event(request)

        @operation("POST", BULK_ROUTE, **self.contract.bulk_operation())
        async def post_bulk(request: web.Request) -> web.Response:
            return await self._post_bulk(request)

        return post_event, post_bulk

    # -- POST /v1/events -----------------------------------------------------------------

    async def _post_event(self, request: web.Request) -> web.Response:
        caller = await self._auth.authenticate(request.headers.get(AUTHORIZATION))
        try:
            accepted = await self._accept_single(request, caller.workspace_id)
        except FieldErrors as exc:
            refused = invalid_request(exc.errors)
            self._count_rejected(refused.status)
            raise refused from exc
        except Problem as exc:
            self._count_rejected(exc.status)
            raise
        if not accepted.replayed:
            self._metrics.accepted["single"].inc()
        headers = {REPLAYED_HEADER: "true"} if accepted.replayed else None
        return _answer(event_accepted(accepted.event_id), headers)

    async def _accept_single(self, request: web.Request, workspace_id: str) -> Accepted:
        key = self._header_key(request)
        document = await read_json(request, self._limits.max_payload_bytes)
        if not isinstance(document, dict):
            raise FieldErrors(
                [FieldError("body", FieldErrorCode.TYPE, "must be a JSON object (one event)")]
            )
        item = parse_event(
            document, max_payload_bytes=self._limits.max_payload_bytes, header_key=key
        )
        self._check_cataloged(item)
        try:
            return await self._intake.accept(workspace_id, item)
        except IdempotencyConflictError as exc:
            raise problems.conflict(exc) from exc
        except BrokerError as exc:
            raise problems.unavailable(exc) from exc

    def _header_key(self, request: web.Request) -> str | None:
        """The ``Idempotency-Key`` header, validated by the headers model; None when absent."""
        value = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if value is None:
            return None
        headers = read_strings(self.contract.headers, {IDEMPOTENCY_KEY_HEADER: value})
        return headers.idempotency_key

    # -- POST /v1/events/bulk ------------------------------------------------------------

    async def _post_bulk(self, request: web.Request) -> web.Response:
        caller = await self._auth.authenticate(request.headers.get(AUTHORIZATION))
        try:
            key = self._header_key(request)
            document = await read_json(request, self._limits.max_bulk_body_bytes)
            raw_events = validate_body(self.contract.bulk, document).events
        except FieldErrors as exc:
            refused = invalid_request(exc.errors)
            self._count_rejected(refused.status)
            raise refused from exc
        except Problem as exc:
            self._count_rejected(exc.status)
            raise
        results: list[BulkEntry | None] = [None] * len(raw_events)
        valid: list[tuple[int, EventInput]] = []
        for index, raw in enumerate(raw_events):
            try:
                valid.append((index, self._parse_bulk_item(raw, index, key)))
            except EventInputError as exc:
                results[index] = self._rejected(index, invalid_request(exc.errors))
        # At most max_bulk_events tasks; the intake bounds produces across requests.
        outcomes = await asyncio.gather(
            *(self._accept_one(caller.workspace_id, index, item) for index, item in valid)
        )
        for index, outcome in outcomes:
            results[index] = outcome
        final = [r for r in results if r is not None]
        counts = {status: sum(r["status"] == status for r in final) for status in _STATUSES}
        if counts["accepted"]:
            # The entries are ours and typed: no second validation of them.
            result = BulkResult.model_construct(
                results=final,
                accepted=counts["accepted"],
                rejected=counts["rejected"],
                failed=counts["failed"],
            )
            return _answer(result)
        if counts["failed"]:
            raise problems.unavailable(BrokerError("no event of the batch was acknowledged"))
        raise invalid_request(
            [error for entry in final for error in entry_errors(entry)],
            detail="no event of the batch was accepted",
            status=400,
        )

    def _parse_bulk_item(self, raw: object, index: int, key: str | None) -> EventInput:
        if not isinstance(raw, dict):
            raise EventInputError([FieldError("", FieldErrorCode.TYPE, "must be a JSON object")])
        item = parse_event(raw, max_payload_bytes=self._limits.max_payload_bytes)
        self._check_cataloged(item)
        if item.idempotency_key is None and key is not None:
            # The header covers the whole batch: each position gets its own key.
            item = replace(item, idempotency_key=f"{key}:{index}")
        return item

    def _check_cataloged(self, item: EventInput) -> None:
        """The event-type catalog's say: the payload against its type's schema, and the
        type itself when the catalog is required. Nothing is produced for a refusal."""
        problems = event_problems(
            self._catalog,
            item.type,
            item.payload,
            require_cataloged=self._require_cataloged,
        )
        if problems:
            raise EventInputError(problems)

    async def _accept_one(
        self, workspace_id: str, index: int, item: EventInput
    ) -> tuple[int, BulkEntry]:
        try:
            accepted = await self._intake.accept(workspace_id, item)
        except IdempotencyConflictError as exc:
            return index, self._rejected(index, problems.conflict(exc))
        except BrokerError as exc:
            refused = problems.unavailable(exc)
            self._count_rejected(refused.status)
            return index, FailedEntry(index=index, status="failed", error=entry_problem(refused))
        if not accepted.replayed:
            self._metrics.accepted["bulk"].inc()
        return index, AcceptedEntry(index=index, status="accepted", id=accepted.event_id)

    def _rejected(self, index: int, refused: Problem) -> RejectedEntry:
        self._count_rejected(refused.status)
        return RejectedEntry(index=index, status="rejected", error=entry_problem(refused))

    def _count_rejected(self, status: int) -> None:
        self._metrics.events_rejected.labels(_REJECTION_REASONS.get(status, "invalid")).inc()


_STATUSES = ("accepted", "rejected", "failed")
_REJECTION_REASONS = {413: "too_large", 415: "invalid", 422: "conflict", 503: "unavailable"}


def _answer(body: Answer, headers: dict[str, str] | None = None) -> web.Response:
    """A 202 with ``body``, serialised by its model (``None`` fields left out)."""
    return web.Response(
        body=body.__pydantic_serializer__.to_json(body, exclude_none=True),
        status=202,
        content_type="application/json",
        headers=headers,
    )
