"""One delivery record end to end: decode, find the destination, sign, send, judge, record.

The destination and its secrets are looked up when the attempt is made, not when the
delivery was routed, so an edit, a rotation, a deletion or a disable applies to
deliveries already queued. Every decodable delivery ends as exactly one acknowledged
outcome; a record that cannot be a delivery raises (CodecError, InvalidRecordError) for
the consumer to dead-letter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from services.dispatcher.errors import DestinationUnavailable
from services.dispatcher.limits import DestinationLimiter
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.outcomes import OutcomeWriter, build_outcome
from services.dispatcher.policy import decide
from services.dispatcher.results import AttemptResult, signing_failed, unavailable
from services.dispatcher.signing_keys import SigningKeys
from signet import codec
from signet.errors import InvalidRecordError, SecretError
from signet.ids import now_ms
from signet.records import Delivery, Destination, DestinationType, Outcome, WorkspaceConfig
from signet.signing import SigningError, sign_delivery


class DestinationDirectory(Protocol):
    """What the pipeline reads of the configuration (``signet.config_view.ConfigView``)."""

    def destination(self, destination_id: str) -> tuple[WorkspaceConfig, Destination] | None: ...

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None: ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


class AttemptSender(Protocol):
    async def send(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout_seconds: float
    ) -> AttemptResult: ...


# Whatever a destination asks for: a request holds a slot and delays a graceful stop.
MIN_TIMEOUT_SECONDS = 1.0
MAX_TIMEOUT_SECONDS = 60.0

_REQUIRED = ("id", "event_id", "workspace_id", "destination_id", "event_type")


def decode_delivery(value: bytes | None) -> Delivery:
    """A Delivery fit to send, or CodecError / InvalidRecordError saying what is wrong."""
    delivery = codec.decode(value, Delivery)
    missing = [name for name in _REQUIRED if not getattr(delivery, name)]
    if missing:
        raise InvalidRecordError(f"delivery has empty {', '.join(missing)}")
    if delivery.attempt < 1:
        raise InvalidRecordError(f"delivery attempt must be at least 1, got {delivery.attempt}")
    if not delivery.body:
        raise InvalidRecordError("delivery has an empty body")
    return delivery


class DeliveryPipeline:
    def __init__(
        self,
        *,
        directory: DestinationDirectory,
        keys: SigningKeys,
        sender: AttemptSender,
        outcomes: OutcomeWriter,
        limiter: DestinationLimiter,
        metrics: DispatcherMetrics,
        default_timeout_seconds: float,
        config_wait_seconds: float,
    ) -> None:
        self._directory = directory
        self._keys = keys
        self._sender = sender
        self._outcomes = outcomes
        self._limiter = limiter
        self._metrics = metrics
        self._default_timeout = default_timeout_seconds
        self._config_wait = config_wait_seconds

    async def process(self, value: bytes | None) -> Outcome:
        delivery = decode_delivery(value)
        outcome, result = await self.attempt(delivery)
        await self._outcomes.write(outcome)
        self._metrics.observe(outcome, result)
        return outcome

    async def attempt(self, delivery: Delivery) -> tuple[Outcome, AttemptResult]:
        try:
            config, destination = await self._find(delivery)
        except DestinationUnavailable as exc:
            return self._judge(delivery, unavailable(str(exc)), url=None, headers={})
        url = destination.url or ""
        try:
            secrets = self._keys.for_destination(config.workspace_id, destination, now_ms())
            headers = sign_delivery(
                destination.signature_scheme,
                secrets,
                msg_id=delivery.event_id,
                timestamp=int(time.time()),
                body=delivery.body,
            )
        except (SecretError, SigningError) as exc:
            result = signing_failed(f"cannot sign: {exc}")
            return self._judge(delivery, result, url=url, headers={})
        timeout = destination.timeout_seconds or self._default_timeout
        timeout = min(max(timeout, MIN_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
        async with self._limiter.slot(destination.id):
            attempted_at = now_ms()
            result = await self._sender.send(url, delivery.body, headers, timeout_seconds=timeout)
        return self._judge(delivery, result, url=url, headers=headers, attempted_at=attempted_at)

    def _judge(
        self,
        delivery: Delivery,
        result: AttemptResult,
        *,
        url: str | None,
        headers: dict[str, str],
        attempted_at: int | None = None,
    ) -> tuple[Outcome, AttemptResult]:
        verdict = decide(result)
        sent = headers if result.requested else {}  # a refused request sent nothing
        outcome = build_outcome(
            delivery, result, verdict, url=url, request_headers=sent, attempted_at=attempted_at
        )
        return outcome, result

    async def _find(self, delivery: Delivery) -> tuple[WorkspaceConfig, Destination]:
        directory, destination_id = self._directory, delivery.destination_id
        found = directory.destination(destination_id)
        if found is None and self._config_wait > 0 and self._view_may_lag(delivery):
            await directory.wait_for(
                lambda: (
                    directory.destination(destination_id) is not None
                    or not self._view_may_lag(delivery)
                ),
                self._config_wait,
            )
            found = directory.destination(destination_id)
        if found is None:
            raise DestinationUnavailable("destination deleted")
        config, destination = found
        if config.workspace_id != delivery.workspace_id:
            raise InvalidRecordError(
                f"delivery names workspace {delivery.workspace_id}, but destination "
                f"{destination_id} belongs to {config.workspace_id}"
            )
        if destination.type != DestinationType.WEBHOOK:
            raise DestinationUnavailable(f"destination is a {destination.type}, not a webhook")
        if not destination.enabled:
            reason = f": {destination.disabled_reason}" if destination.disabled_reason else ""
            raise DestinationUnavailable(f"destination disabled{reason}")
        if not destination.url:
            raise DestinationUnavailable("destination has no URL")
        return config, destination

    def _view_may_lag(self, delivery: Delivery) -> bool:
        """True while our view of the workspace may predate the delivery's destination.

        A snapshot written at or after the event was created already reflects any
        destination the router could have routed it to; an older one (or none) may not.
        """
        config = self._directory.workspace(delivery.workspace_id)
        return config is None or config.updated_at < delivery.event_created_at
