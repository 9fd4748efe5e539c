"""The event path: one Delivery per matching destination, produced and acknowledged.

The "join" of events with the config table is a lookup in this worker's shard (the event
and its workspace's snapshot share a partition). The body is rendered once per event and
shared by its deliveries. A batch returns only once every delivery is acknowledged, so the
agent acks (and Faust commits) an event only after its deliveries are durable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from opentelemetry.trace import Span
from signet_sdk.contract.events import EventSource
from signet_sdk.ids import now_ms

from signet import tracing
from signet.catalog.events import CatalogReader, CatalogRefusal, event_problems
from signet.errors import CodecError, SignetError
from signet.kafka.clients import Headers
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Event, WorkspaceConfig
from signet.records.payload import check_payload, render_body

from .metrics import RouterMetrics
from .output import OutputWriter, OutRecord
from .routing import WorkspaceRoutes, build_deliveries
from .source import SourceRecord, check_keyed_by_workspace

logger = logging.getLogger(__name__)

SOURCE = "events"


class SnapshotReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


class EventRouter:
    def __init__(
        self,
        snapshots: SnapshotReader,
        output: OutputWriter,
        topics: Topics,
        metrics: RouterMetrics,
        *,
        partitions: int,
        catalog: CatalogReader | None = None,
        require_cataloged: bool = False,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._snapshots = snapshots
        self._output = output
        self._deliveries_topic = topics.deliveries
        self._metrics = metrics
        self._partitions = partitions
        self._clock = clock
        self._catalog = catalog
        self._require_cataloged = require_cataloged
        # Compiled routes per workspace, valid while the table holds the same bytes object.
        self._routes: dict[bytes, tuple[bytes, WorkspaceRoutes]] = {}

    async def route_batch(self, records: Sequence[SourceRecord]) -> None:
        """Route every record; return once all deliveries and dead letters are acknowledged."""
        now = self._clock()
        out: list[OutRecord] = []
        rejected: list[tuple[SourceRecord, Exception]] = []
        routed = 0
        for record in records:
            try:
                deliveries = self._route(record, now)
            except Exception as exc:  # no event may stop the agent
                if not isinstance(exc, SignetError):
                    logger.exception("unexpected error routing %s", _where(record))
                rejected.append((record, exc))
                continue
            if deliveries:
                routed += 1
                out.extend(deliveries)
        await self._output.send_all(out)
        for record, error in rejected:
            await self._output.dead_letter(record, error, SOURCE)
        self._metrics.events_routed.inc(routed)
        self._metrics.deliveries_produced.inc(len(out))

    def _route(self, record: SourceRecord, now: int) -> list[OutRecord]:
        """The deliveries of one event, in a span continuing the trace its record carries
        (their headers carry it on: ``signet/tracing.py``)."""
        with tracing.consumer_span(
            "route",
            record.headers,
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as (span, headers):
            return self._deliveries_of(record, now, span, headers)

    def _deliveries_of(
        self, record: SourceRecord, now: int, span: Span, headers: Headers
    ) -> list[OutRecord]:
        event = codec.decode(record.value, Event)
        traced = span.is_recording()
        if traced:
            span.set_attributes({"signet.event.id": event.id, "signet.event.type": event.type})
        check_keyed_by_workspace(record, event.workspace_id, self._partitions)
        payload = check_payload(event.payload)
        self._check_cataloged(event, payload)
        routes = self._routes_for(record.key or b"")
        if routes is None:
            self._metrics.events_unrouted.labels("unknown_workspace").inc()
            return []
        destination_ids = routes.destinations_for(event.type)
        if not destination_ids:
            self._metrics.events_unrouted.labels("no_destination").inc()
            return []
        body = render_body(event)
        if traced:
            span.set_attribute("signet.deliveries", len(destination_ids))
        return [
            OutRecord(
                self._deliveries_topic, codec.encode(delivery), delivery.destination_id, headers
            )
            for delivery in build_deliveries(event, destination_ids, body, now, routes.version)
        ]

    def _check_cataloged(self, event: Event, payload: dict[str, object]) -> None:
        """Events produced straight to Kafka meet the catalog here (the ingest checked
        the others): a refused one is a dead letter naming every field error."""
        if self._catalog is None or event.source != EventSource.KAFKA.value:
            return
        problems = event_problems(
            self._catalog,
            event.type,
            payload,
            require_cataloged=self._require_cataloged,
            type_field="type",
        )
        if problems:
            refusal = CatalogRefusal(event.id, event.type, problems)
            self._metrics.events_refused.labels(refusal.code.value).inc()
            raise refusal

    def _routes_for(self, key: bytes) -> WorkspaceRoutes | None:
        raw = self._snapshots.get(key)
        if raw is None:
            self._routes.pop(key, None)
            return None
        cached = self._routes.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1]
        try:
            routes = WorkspaceRoutes.of(codec.decode(raw, WorkspaceConfig))
        except CodecError as exc:
            raise CodecError(
                f"the stored snapshot of workspace {key[:100]!r} is unreadable ({exc}); "
                "the event cannot be routed"
            ) from exc
        self._routes[key] = (raw, routes)
        return routes


def _where(record: SourceRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
