"""Emit events straight to ``signet.events``, for high-volume producers (``signet-sdk[kafka]``).

    from signet_sdk.producer import EventProducer

    # On leaving the block: flush, raise if anything failed, release the client.
    with EventProducer("kafka:9092") as producer:
        for order in completed_orders:
            producer.emit(
                "ws_01J…",
                event="order.completed",
                resource="order",
                resource_id=order.id,
                payload={"order_id": order.id, "total_cents": order.total_cents},
                id=f"order-{order.id}-completed",  # optional idempotency key
            )
        producer.flush()  # optional checkpoint: raises DeliveryFailedError naming failures

An event is checked by the same rules as the HTTP ingest (:mod:`signet_sdk.contract.events`)
and written as the same ``signet.Event`` record (``source="kafka"``, :mod:`signet_sdk.wire`),
keyed by workspace id with the murmur2 partitioner so it lands on the partition of the
router's config table for that workspace. ``emit`` does not wait: records are batched
(``linger.ms``) and acknowledged (acks=all) in the background; ``flush`` (or the ``async``
:meth:`EventProducer.flush_async`) waits for every acknowledgement and raises if any record
failed. Security settings are librdkafka's, given as ``**overrides``
(``**{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", …}``).

No authentication and no workspace check happen here: whoever can write the topic is
trusted; the router routes an event of an unknown workspace nowhere and counts it
(``signet_router_events_unrouted_total{reason="unknown_workspace"}``). An idempotency key gives
the same event id as the ingest would (:func:`~signet_sdk.contract.events.event_id_for`);
nothing is remembered, so emitting the same key twice writes two records with one id, which
receivers deduplicate by ``webhook-id``.

Tracing: each record carries the W3C trace context in its Kafka headers (``traceparent``,
``tracestate``), which Signet continues to the ``traceparent`` of every delivery of the
event, so a receiver can join the producer's trace. It is the ``traceparent`` given to
``emit``, else the current OpenTelemetry context when ``opentelemetry-api`` is installed
(``signet-sdk[tracing]``); without either, the record has no trace headers and Signet
starts a trace of its own.

Thread-safe: confluent-kafka's ``Producer`` is, and the failure list is guarded by a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from signet_sdk.contract.events import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    EventInputError,
    EventSource,
    build_event_input,
)
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.errors import BrokerError
from signet_sdk.kafka_errors import is_dead_producer, kafka_error_of
from signet_sdk.wire import encode_event

try:  # optional: signet-sdk[tracing]
    from opentelemetry import propagate as _propagate
except ImportError:  # pragma: no cover - exercised by the SDK's own venv tests
    _propagate = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

TRACE_HEADERS = ("traceparent", "tracestate")

WORKSPACE_ID_MAX_CHARS = 128
# The services' SIGNET_TOPIC_PREFIX (default "signet") + ".events".
DEFAULT_TOPIC = "signet.events"


@dataclass(slots=True, frozen=True)
class FailedEvent:
    event_id: str
    workspace_id: str
    error: str


class DeliveryFailedError(BrokerError):
    """Some emitted events were not acknowledged: refused by the broker, or still pending."""

    def __init__(self, failures: list[FailedEvent], unacknowledged: int = 0) -> None:
        self.failures = failures
        self.unacknowledged = unacknowledged
        parts = []
        if failures:
            first = failures[0]
            parts.append(f"{len(failures)} events failed (first: {first.event_id}: {first.error})")
        if unacknowledged:
            parts.append(f"{unacknowledged} still unacknowledged at the deadline")
        super().__init__("; ".join(parts) or "delivery failed")


class EventProducer:
    """Validated, keyed, batched writes of events; see the module docstring."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str = DEFAULT_TOPIC,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        block_timeout_seconds: float = 30.0,
        **overrides: Any,
    ) -> None:
        """``overrides`` are librdkafka settings (``{"linger.ms": 50}`` as ``**{...}``)."""
        self._topic = topic
        self._max_payload_bytes = max_payload_bytes
        self._block_timeout = block_timeout_seconds
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            # Java/Faust-compatible: the router's table lookup is co-partitioned.
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "compression.type": "lz4",
            **overrides,
        }
        self._conf = conf
        self._producer = self._new_producer()
        self._failures: list[FailedEvent] = []
        self._lock = threading.Lock()
        self._closed = False
        self._dead: str | None = None  # why the current client is unusable, until replaced
        self.replacements = 0  # clients replaced after a fatal error (a fenced producer)

    def _new_producer(self) -> Producer:
        try:
            return Producer(self._conf)
        except KafkaException as exc:
            raise BrokerError(f"cannot create the Kafka producer: {exc}") from exc

    def _replace_if_dead(self) -> None:
        """A client the broker fenced (or librdkafka calls fatal) never writes again: its
        records fail now (``take_failures`` lists them; emit them again with the same
        ``id``) and a new idempotent client takes its place."""
        reason = self._dead
        if reason is None:
            return
        dead, self._producer = self._producer, self._new_producer()
        self._dead = None
        self.replacements += 1
        logger.warning("Kafka producer replaced after a fatal error: %s", reason)
        dead.purge()
        dead.poll(0)  # their delivery reports: each becomes a FailedEvent
        dead.close()

    def emit(
        self,
        workspace_id: str,
        *,
        event: str,
        resource: str,
        resource_id: str,
        payload: Mapping[str, Any] | bytes | str,
        id: str | None = None,
        traceparent: str | None = None,
    ) -> str:
        """Queue one event and return its id; raises :class:`EventInputError` if invalid.

        ``payload`` is a mapping, or JSON text holding an object. ``id`` is an idempotency
        key: the event id is derived from (workspace, id), as in the HTTP ingest.
        ``traceparent``: the W3C trace context the deliveries continue; by default the
        current OpenTelemetry context's, if any (module docstring).
        """
        if self._closed:
            raise BrokerError("the producer is closed")
        workspace_problem = _check_workspace_id(workspace_id)
        try:
            item = build_event_input(
                event=event,
                resource=resource,
                resource_id=resource_id,
                payload=payload,
                idempotency_key=id,
                max_payload_bytes=self._max_payload_bytes,
            )
        except EventInputError as exc:
            errors = [workspace_problem, *exc.errors] if workspace_problem else list(exc.errors)
            raise EventInputError(errors) from exc
        if workspace_problem is not None:
            raise EventInputError([workspace_problem])
        event_id = item.event_id(workspace_id)
        record = item.to_record(workspace_id, event_id=event_id, source=EventSource.KAFKA)
        self._produce(event_id, workspace_id, encode_event(record), _trace_headers(traceparent))
        return event_id

    def _produce(
        self,
        event_id: str,
        workspace_id: str,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                if is_dead_producer(err):
                    self._dead = err.str()
                with self._lock:
                    self._failures.append(FailedEvent(event_id, workspace_id, err.str()))

        self._replace_if_dead()
        deadline = time.monotonic() + self._block_timeout
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    value=value,
                    key=workspace_id,
                    headers=headers,
                    on_delivery=on_delivery,
                )
                break
            except BufferError as exc:
                # The local queue is full: serve delivery reports until there is room.
                if time.monotonic() >= deadline:
                    raise BrokerError(
                        f"the local produce queue stayed full for {self._block_timeout:g}s"
                    ) from exc
                self._producer.poll(0.1)
            except KafkaException as exc:
                err = kafka_error_of(exc)
                if err is not None and is_dead_producer(err):
                    self._dead = err.str()
                raise BrokerError(f"cannot produce to {self._topic}: {exc}") from exc
        self._producer.poll(0)  # serve callbacks of earlier records; never blocks

    @property
    def pending(self) -> int:
        """Records queued or in flight, not yet acknowledged or failed."""
        return len(self._producer)

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports; ``emit`` does this too. Returns how many were served."""
        served = int(self._producer.poll(timeout))
        self._replace_if_dead()
        return served

    def take_failures(self) -> list[FailedEvent]:
        """Failed events reported so far (and forget them)."""
        with self._lock:
            failures, self._failures = self._failures, []
        return failures

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every acknowledgement; raise :class:`DeliveryFailedError` if any failed."""
        remaining = int(self._producer.flush(timeout))
        self._replace_if_dead()
        failures = self.take_failures()
        if failures or remaining:
            raise DeliveryFailedError(failures, remaining)

    async def flush_async(self, timeout: float = 30.0) -> None:
        """:meth:`flush` without blocking the event loop."""
        await asyncio.to_thread(self.flush, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush (raising as :meth:`flush` does), then release the client. Idempotent.

        Records still unacknowledged at the deadline are dropped, and counted in the raise.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self.flush(timeout)
        finally:
            if len(self._producer):
                self._producer.purge()  # or close() would wait for them without a deadline
            self._producer.close()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close(self._block_timeout)
            return
        # Already failing: deliver what we can, but do not hide the original error.
        with contextlib.suppress(BrokerError):
            self.close(self._block_timeout)


def _check_workspace_id(workspace_id: object) -> FieldError | None:
    if not isinstance(workspace_id, str):
        return FieldError("workspace_id", FieldErrorCode.TYPE, "must be a string")
    if not workspace_id or len(workspace_id) > WORKSPACE_ID_MAX_CHARS:
        return FieldError(
            "workspace_id",
            FieldErrorCode.LENGTH,
            f"must be 1 to {WORKSPACE_ID_MAX_CHARS} characters",
        )
    if not workspace_id.isprintable() or workspace_id.strip() != workspace_id:
        return FieldError(
            "workspace_id", FieldErrorCode.FORMAT, "must not contain spaces or control characters"
        )
    return None


def _trace_headers(traceparent: str | None) -> list[tuple[str, str | bytes | None]] | None:
    """The record's trace headers: ``traceparent`` as given, else the current
    OpenTelemetry context's (through its configured propagator), else none."""
    if traceparent is not None:
        return [("traceparent", traceparent.strip().encode("ascii"))]
    if _propagate is None:
        return None
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    headers: list[tuple[str, str | bytes | None]] = [
        (name, carrier[name].encode("ascii")) for name in TRACE_HEADERS if name in carrier
    ]
    return headers or None
