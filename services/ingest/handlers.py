"""The two event endpoints: ``POST /v1/events`` and ``POST /v1/events/bulk``
(docs/architecture.md#ingest).

A handler authenticates, reads and validates the body, hands valid events to
:class:`~services.ingest.intake.EventIntake`, and answers 202 only after the broker
acknowledged every record it reports as accepted. Anything refused leaves nothing on the
topic: validation happens before the first produce.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from services.ingest import problems
from services.ingest.auth import AUTHORIZATION, PublishableKeyAuth
from services.ingest.errors import IdempotencyConflictError
from services.ingest.intake import Accepted, EventIntake
from services.ingest.metrics import IngestMetrics
from signet.errors import BrokerError
from signet.records.event_input import (
    EventInput,
    EventInputError,
    FieldError,
    FieldErrorCode,
    parse_event,
)
from signet.web import Problem, json_response

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(slots=True, frozen=True)
class Limits:
    max_payload_bytes: int
    max_bulk_events: int
    max_bulk_body_bytes: int


class EventHandlers:
    def __init__(
        self,
        auth: PublishableKeyAuth,
        intake: EventIntake,
        metrics: IngestMetrics,
        limits: Limits,
    ) -> None:
        self._auth = auth
        self._intake = intake
        self._metrics = metrics
        self._limits = limits

    async def post_event(self, request: web.Request) -> web.Response:
        caller = await self._auth.authenticate(request.headers.get(AUTHORIZATION))
        try:
            accepted = await self._accept_single(request, caller.workspace_id)
        except Problem as exc:
            self._count_rejected(exc.status)
            raise
        if not accepted.replayed:
            self._metrics.events_accepted.labels("single").inc()
        headers = {REPLAYED_HEADER: "true"} if accepted.replayed else None
        return json_response({"id": accepted.event_id}, status=202, headers=headers)

    async def _accept_single(self, request: web.Request, workspace_id: str) -> Accepted:
        key = problems.header_key(request)
        document = await problems.read_body(request, self._limits.max_payload_bytes)
        if not isinstance(document, dict):
            raise problems.invalid(
                [FieldError("body", FieldErrorCode.TYPE, "must be a JSON object (one event)")]
            )
        try:
            item = parse_event(
                document, max_payload_bytes=self._limits.max_payload_bytes, header_key=key
            )
        except EventInputError as exc:
            raise problems.invalid(exc.errors) from exc
        try:
            return await self._intake.accept(workspace_id, item)
        except IdempotencyConflictError as exc:
            raise problems.conflict(exc) from exc
        except BrokerError as exc:
            raise problems.unavailable(exc) from exc

    async def post_bulk(self, request: web.Request) -> web.Response:
        caller = await self._auth.authenticate(request.headers.get(AUTHORIZATION))
        try:
            key = problems.header_key(request)
            document = await problems.read_body(request, self._limits.max_bulk_body_bytes)
            raw_events = self._bulk_events(document)
        except Problem as exc:
            self._count_rejected(exc.status)
            raise
        results: list[dict[str, Any] | None] = [None] * len(raw_events)
        valid: list[tuple[int, EventInput]] = []
        for index, raw in enumerate(raw_events):
            try:
                valid.append((index, self._parse_bulk_item(raw, index, key)))
            except EventInputError as exc:
                problem = problems.invalid(exc.errors)
                self._count_rejected(problem.status)
                results[index] = _rejected(index, problem)
        # At most max_bulk_events tasks; the intake bounds produces across requests.
        outcomes = await asyncio.gather(
            *(self._accept_one(caller.workspace_id, index, item) for index, item in valid)
        )
        for index, outcome in outcomes:
            results[index] = outcome
        final = [r for r in results if r is not None]
        counts = {status: sum(r["status"] == status for r in final) for status in _STATUSES}
        if counts["accepted"]:
            return json_response({"results": final, **counts}, status=202)
        if counts["failed"]:
            raise problems.unavailable(BrokerError("no event of the batch was acknowledged"))
        raise problems.invalid(
            _nested_errors(final), detail="no event of the batch was accepted", status=400
        )

    def _count_rejected(self, status: int) -> None:
        self._metrics.events_rejected.labels(_REJECTION_REASONS.get(status, "invalid")).inc()

    def _bulk_events(self, document: Any) -> list[Any]:
        limit = self._limits.max_bulk_events
        if not isinstance(document, dict):
            error = FieldError(
                "body", FieldErrorCode.TYPE, 'must be a JSON object {"events": [...]}'
            )
        elif unknown := [name for name in document if name != "events"]:
            error = FieldError(unknown[0], FieldErrorCode.UNKNOWN, "unknown field; expected events")
        elif "events" not in document:
            error = FieldError("events", FieldErrorCode.REQUIRED, "is required")
        elif not isinstance(events := document["events"], list):
            error = FieldError("events", FieldErrorCode.TYPE, "must be an array of events")
        elif not events:
            error = FieldError("events", FieldErrorCode.LENGTH, "must hold at least one event")
        elif len(events) > limit:
            error = FieldError(
                "events",
                FieldErrorCode.TOO_LARGE,
                f"holds {len(events)} events; at most {limit} per request",
            )
        else:
            return events
        raise problems.invalid([error])

    def _parse_bulk_item(self, raw: Any, index: int, key: str | None) -> EventInput:
        if not isinstance(raw, dict):
            raise EventInputError([FieldError("", FieldErrorCode.TYPE, "must be a JSON object")])
        item = parse_event(raw, max_payload_bytes=self._limits.max_payload_bytes)
        if item.idempotency_key is None and key is not None:
            # The header covers the whole batch: each position gets its own key.
            item = replace(item, idempotency_key=f"{key}:{index}")
        return item

    async def _accept_one(
        self, workspace_id: str, index: int, item: EventInput
    ) -> tuple[int, dict[str, Any]]:
        try:
            accepted = await self._intake.accept(workspace_id, item)
        except IdempotencyConflictError as exc:
            problem = problems.conflict(exc)
            self._count_rejected(problem.status)
            return index, _rejected(index, problem)
        except BrokerError as exc:
            problem = problems.unavailable(exc)
            self._count_rejected(problem.status)
            return index, {"index": index, "status": "failed", "error": problems.body_dict(problem)}
        if not accepted.replayed:
            self._metrics.events_accepted.labels("bulk").inc()
        return index, {"index": index, "status": "accepted", "id": accepted.event_id}


_STATUSES = ("accepted", "rejected", "failed")
_REJECTION_REASONS = {413: "too_large", 415: "invalid", 422: "conflict", 503: "unavailable"}


def _rejected(index: int, problem: Any) -> dict[str, Any]:
    return {"index": index, "status": "rejected", "error": problems.body_dict(problem)}


def _nested_errors(results: list[dict[str, Any]]) -> list[FieldError]:
    """Every per-event field error, named from the batch (``events[3].payload``)."""
    out: list[FieldError] = []
    for result in results:
        prefix = f"events[{result['index']}]"
        error = result.get("error") or {}
        for entry in error.get("errors") or ():
            field = entry.get("field", "")
            name = f"{prefix}.{field}" if field else prefix
            out.append(FieldError(name, FieldErrorCode(entry["code"]), entry["message"]))
    return out
